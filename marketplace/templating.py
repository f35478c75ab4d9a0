"""Jinja filters and globals used by every template."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment

from escrow.money import format_money, major_units
from marketplace.clock import as_utc


def money(amount: int | None, currency: str | None = "USD") -> str:
    if amount is None:
        return "—"
    return format_money(int(amount), currency or "USD")


def datetime_filter(value: datetime | None, fmt: str = "%d %b %Y, %H:%M UTC") -> str:
    if value is None:
        return "—"
    return as_utc(value).strftime(fmt)


def date_filter(value: datetime | None) -> str:
    return datetime_filter(value, "%d %b %Y")


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """'in 3 days' / '2 hours ago' — deadlines read faster this way."""
    if value is None:
        return "—"
    from datetime import UTC

    now = as_utc(now) if now else datetime.now(UTC)
    seconds = int((as_utc(value) - now).total_seconds())
    future = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "now"


def field_error(errors: dict[str, str] | None, name: str) -> str:
    return (errors or {}).get(name, "")


def configure_jinja(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["major_units"] = lambda amount, currency="USD": major_units(int(amount), currency) if amount else ""
    env.filters["dt"] = datetime_filter
    env.filters["date"] = date_filter
    env.filters["relative"] = relative
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


def jinja_engine_callback(engine: Any) -> None:
    configure_jinja(engine.engine)
    install_macros(engine.engine)
