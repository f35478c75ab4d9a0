"""Templates' gettext keeps each message's result per locale: the same words, escaping and formatting as Jinja's
own newstyle gettext, whichever language asked first."""

from __future__ import annotations

from jinja2 import Environment

from marketplace import i18n
from marketplace.i18n import use_locale
from marketplace.templating import configure_jinja

PAGE = '{{ _("Find gigs") }}|{{ _("Proven reliability at least %%") }}|{{ _("%(name)s is %(verified)s.", ' \
       'name=who, verified="ok") }}|{% trans %}Find gigs{% endtrans %}'


def _env(autoescape: bool) -> Environment:
    env = Environment(autoescape=autoescape)  # noqa: S701 (text emails render unescaped too)
    configure_jinja(env)
    return env


def _jinja_own(autoescape: bool) -> Environment:
    """Jinja's gettext over the same catalogs, for comparison."""
    env = Environment(autoescape=autoescape, extensions=["jinja2.ext.i18n"])  # noqa: S701
    env.install_gettext_translations(i18n.ContextTranslations(), newstyle=True)  # type: ignore[attr-defined]
    return env


def test_each_language_gets_its_own_words_whichever_asked_first() -> None:
    template = _env(True).from_string(PAGE)
    with use_locale("en"):
        english = template.render(who="Ana")
    with use_locale("zh_Hans"):
        chinese = template.render(who="Ana")
    with use_locale("en"):
        again = template.render(who="Ana")
    assert english.startswith("Find gigs|Proven reliability at least %|Ana is ok.|Find gigs")
    assert chinese.startswith("找合作|") and chinese.endswith("|找合作")
    assert again == english


def test_same_output_as_jinjas_gettext_escaping_and_all() -> None:
    for autoescape in (True, False):
        ours, theirs = _env(autoescape).from_string(PAGE), _jinja_own(autoescape).from_string(PAGE)
        for locale in ("en", "zh_Hans", "en"):
            with use_locale(locale):
                for who in ("Ana", "<b>Ana</b>", "100%"):
                    assert ours.render(who=who) == theirs.render(who=who), (autoescape, locale, who)
    with use_locale("en"):
        escaped = _env(True).from_string(PAGE).render(who="<b>")
        raw = _env(False).from_string(PAGE).render(who="<b>")
    assert "&lt;b&gt; is ok." in escaped and "<b> is ok." in raw
