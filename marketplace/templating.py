"""Jinja filters and globals used by every template."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from escrow.money import major_units
from marketplace import i18n
from marketplace.verification.posts import platform_label


def money(amount: int | None, currency: str | None = "USD") -> str:
    """Integer minor units as the viewer's locale writes money (Babel)."""
    return i18n.format_money(amount, currency)


def datetime_filter(value: datetime | None) -> str:
    """The one way a moment is shown: in the viewer's time zone, the zone named, in their locale's format."""
    return i18n.format_datetime(value)


def date_filter(value: datetime | None) -> str:
    return i18n.format_date(value)


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """'in 3 days' / '2 hours ago' — deadlines read faster this way (in the viewer's language)."""
    return i18n.format_relative(value, now)


def field_error(errors: dict[str, str] | None, name: str) -> str:
    return (errors or {}).get(name, "")


def remembered_gettext() -> Callable[..., str]:
    """Jinja's newstyle ``gettext`` (what ``_()`` and ``{% trans %}`` call: translated, escaped when the template
    autoescapes, then always ``%``-formatted), with each message's result kept per locale. A page calls it dozens of
    times, and Jinja's own goes through four calls and the catalog each time; the catalogs don't change while a
    process runs (``i18n.translations`` is cached the same way)."""
    translated: dict[tuple[str, str, bool], str] = {}
    finished: dict[tuple[str, str, bool], str] = {}

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        key = (i18n.current_locale(), message, context.eval_ctx.autoescape)
        if not variables:
            done = finished.get(key)
            if done is not None:
                return done
        text = translated.get(key)
        if text is None:
            text = i18n.translations(key[0]).ugettext(message)
            # Our own catalog's text, trusted as Jinja's newstyle gettext trusts it; the variables are escaped by %.
            translated[key] = text = Markup(text) if key[2] else text  # noqa: S704
        if variables:
            return text % variables
        finished[key] = done = text % {}
        return done

    return gettext


def configure_jinja(env: Environment) -> None:
    # gettext follows the language of whoever the page (or email) is for; see marketplace.i18n.
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_translations(i18n.ContextTranslations(), newstyle=True)  # type: ignore[attr-defined]
    env.globals["gettext"] = env.globals["_"] = remembered_gettext()
    env.globals["current_locale"] = i18n.current_locale
    env.globals["current_zone"] = i18n.current_zone
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["zone_name"] = i18n.zone_name
    env.globals["local_input"] = i18n.to_local_input
    env.globals["zone_choices"] = i18n.zone_choices()
    env.filters["number"] = i18n.format_number
    env.filters["percent"] = i18n.format_percent
    env.filters["money"] = money
    env.filters["major_units"] = lambda amount, currency="USD": major_units(int(amount), currency) if amount else ""
    env.filters["dt"] = datetime_filter
    env.filters["date"] = date_filter
    env.filters["relative"] = relative
    env.filters["platform"] = platform_label
    env.globals["field_error"] = field_error
    env.globals["zip"] = zip


def install_macros(env: Environment) -> None:
    """Macros in templates/_macros/ become globals, so a block rendered alone for htmx can call them too
    (a template-level ``{% from ... import %}`` is not visible inside a block rendered on its own)."""
    from jinja2 import Template

    for name in sorted(env.list_templates(filter_func=lambda n: n.startswith("_macros/") and n.endswith(".html"))):
        module = env.get_template(name).module
        for attr in dir(module):
            value = getattr(module, attr)
            if not attr.startswith("_") and callable(value) and not isinstance(value, Template):
                env.globals[attr] = value


def precompile(env: Environment) -> None:
    """Compile every page, fragment and email template once, before the first request, and stop checking them
    against their files: with ``auto_reload`` each render (and each ``extends``/``include`` inside it) stats the
    template's file again. Development keeps reloading edited templates."""
    env.auto_reload = False
    for name in env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt"))):
        env.get_template(name)


def jinja_engine_callback(engine: Any) -> None:
    configure_jinja(engine.engine)
    install_macros(engine.engine)
    # The settings aren't passed to Litestar's engine callback; the environment variable they are read from is.
    if os.environ.get("POSTPACT_ENV", "development") == "production":
        precompile(engine.engine)
