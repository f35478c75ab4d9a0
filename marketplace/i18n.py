"""Languages, time zones and locale formats: the one place pages, emails and API errors get them from.

The language and time zone of whoever is being spoken to live in context variables: a request sets them from the
user's settings (else ``Accept-Language`` or the switcher's cookie), an email job sets them to the recipient's with
``use_locale``. ``gettext`` and the Jinja ``_()``/``{% trans %}`` read them, so a message is translated when it is
rendered, in the language of the person who reads it.

Catalogs live in ``marketplace/translations/<locale>/LC_MESSAGES/messages.po``; ``make`` compiles them to ``.mo``
(``pybabel compile``). A missing or stale ``.mo`` (a checkout that skipped ``make``) is compiled in memory from the
``.po`` instead, so the source of truth is always the ``.po``.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, dates, numbers, support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from escrow.money import CURRENCY_EXPONENTS

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_LOCALE = "en"
DEFAULT_ZONE = "UTC"
#: Every language the interface is complete in, with its name in itself (the switcher shows these).
LANGUAGES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
SUPPORTED_LOCALES = tuple(LANGUAGES)
#: The cookie the language switcher sets for people who aren't signed in.
LANGUAGE_COOKIE = "postpact_lang"

_locale: ContextVar[str] = ContextVar("postpact_locale", default=DEFAULT_LOCALE)
_zone: ContextVar[str] = ContextVar("postpact_zone", default=DEFAULT_ZONE)


# --- which language, which zone ------------------------------------------------------------------------------------


def normalise_locale(value: str | None) -> str | None:
    """A supported locale for a language tag ("zh-CN", "zh_Hans", "en-GB" ...), or None."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag in {"zh-hans", "zh-cn", "zh-sg", "zh"} or tag.startswith(("zh-hans-", "zh-cn-")):
        return "zh_Hans"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


@lru_cache(maxsize=512)
def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an ``Accept-Language`` header (quality values respected), else English.
    Memoised: a browser sends the same header on every request (bounded, so odd headers can't grow it)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        locale = normalise_locale(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalise_zone(value: str | None) -> str | None:
    """An IANA time zone name we can use ("Asia/Shanghai"), or None for anything else."""
    name = (value or "").strip()
    if not name or len(name) > 64:
        return None
    if name.upper() == "UTC":
        return "UTC"
    return name if name in known_zones() else None


def zone_choices() -> list[str]:
    """Region/City zones for the settings form, UTC first."""
    return ["UTC", *sorted(z for z in known_zones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


def current_locale() -> str:
    return _locale.get()


def current_zone() -> str:
    return _zone.get()


def set_locale(locale: str | None, zone: str | None = None) -> None:
    """For the current request (a context variable: each request's task has its own)."""
    _locale.set(normalise_locale(locale) or DEFAULT_LOCALE)
    _zone.set(normalise_zone(zone) or DEFAULT_ZONE)


@contextlib.contextmanager
def use_locale(locale: str | None, zone: str | None = None) -> Iterator[None]:
    """Speak to someone else for a moment: an email to its recipient, a document in the language it was signed in."""
    locale_token = _locale.set(normalise_locale(locale) or DEFAULT_LOCALE)
    zone_token = _zone.set(normalise_zone(zone) or (current_zone() if zone is None else DEFAULT_ZONE))
    try:
        yield
    finally:
        _locale.reset(locale_token)
        _zone.reset(zone_token)


# --- catalogs -------------------------------------------------------------------------------------------------------


def catalog_path(locale: str, suffix: str = "po") -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"messages.{suffix}"


@lru_cache(maxsize=8)
def translations(locale: str) -> support.Translations | support.NullTranslations:
    po, mo = catalog_path(locale), catalog_path(locale, "mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return support.Translations(fh, domain="messages")
    if not po.exists():
        return support.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return support.Translations(buffer, domain="messages")


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the current language; ``%(name)s`` placeholders filled from ``variables``."""
    text = translations(current_locale()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(current_locale()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def pgettext(context: str, message: str, **variables: Any) -> str:
    text = translations(current_locale()).upgettext(context, message)
    return text % variables if variables else text


_ = gettext


def lazy_gettext(message: str, **variables: Any) -> Any:
    """For module-level constants (titles in tables, enum labels): translated each time it is shown."""
    return support.LazyProxy(gettext, message, enable_cache=False, **variables)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; ``gettext`` translates it where it is shown."""
    return message


class Message:
    """A message translated when it is shown, not when it is made: a notice composed during one user's request and
    read (or emailed) by another is rendered in the reader's language. Dates in ``params`` are shown in the reader's
    zone; ``(amount, currency)`` tuples as money in the reader's locale."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def __str__(self) -> str:
        values = {key: _shown(value) for key, value in self.params.items()}
        return gettext(self.msgid, **values) if values else gettext(self.msgid)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.params!r})"


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Message):
        return str(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
        return format_money(value[0], value[1])
    return value


def render_text(value: Any) -> str:
    """Text for a reader: a Message rendered in the current language, anything else as it is."""
    return str(value) if isinstance(value, Message) else value


class ContextTranslations:
    """What Jinja's ``install_gettext_translations`` gets: one object whose methods follow the current locale."""

    def gettext(self, message: str) -> str:
        return translations(current_locale()).ugettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(current_locale()).ungettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return translations(current_locale()).upgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return translations(current_locale()).unpgettext(context, singular, plural, n)


# --- formats --------------------------------------------------------------------------------------------------------

#: Day-month-year in English keeps deadlines unambiguous for readers on both sides of the Atlantic.
_DATETIME_PATTERNS = {"en": "dd MMM yyyy, HH:mm", "zh_Hans": "yyyy年M月d日 HH:mm"}
_DATE_PATTERNS = {"en": "dd MMM yyyy", "zh_Hans": "yyyy年M月d日"}


def babel_locale(locale: str | None = None) -> Locale:
    return _parsed_locale(locale or current_locale())


@lru_cache(maxsize=16)
def _parsed_locale(code: str) -> Locale:
    return Locale.parse(code)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def zone_name(zone: str | None = None, locale: str | None = None) -> str:
    """The zone as people say it in their language: "UTC", "Pacific Time", "中国时间"."""
    return _zone_name(zone or current_zone(), locale or current_locale())


@lru_cache(maxsize=512)
def _zone_name(zone: str, locale: str) -> str:
    if zone == "UTC":
        return "UTC"
    return dates.get_timezone_name(ZoneInfo(zone), "long", locale=babel_locale(locale), return_zone=False)


def format_datetime(
    value: datetime | None, *, zone: str | None = None, locale: str | None = None, with_zone: bool = True
) -> str:
    """A moment in the viewer's zone, the zone named: "07 Dec 2026, 11:40 Pacific Time"."""
    if value is None:
        return "—"
    locale = locale or current_locale()
    zone = zone or current_zone()
    local = _aware(value).astimezone(ZoneInfo(zone))
    text = f"{_date_text(local, locale)}{_SEPARATOR.get(locale, ' ')}{local:%H:%M}"
    return f"{text} {zone_name(zone, locale)}" if with_zone else text


def format_date(value: datetime | date | None, *, zone: str | None = None, locale: str | None = None) -> str:
    if value is None:
        return "—"
    locale = locale or current_locale()
    if isinstance(value, datetime):
        value = _aware(value).astimezone(ZoneInfo(zone or current_zone())).date()
    return _date_text(value, locale)


#: Between the date and the time ("07 Dec 2026, 11:40" / "2026年12月8日 03:40").
_SEPARATOR = {"en": ", ", "zh_Hans": " "}


def _date_text(value: date, locale: str) -> str:
    """The locale's date pattern (``_DATE_PATTERNS``, Babel's CLDR month names), without Babel's per-call pattern
    parsing: listing pages show dozens of dates."""
    if locale == "zh_Hans":
        return f"{value.year}年{value.month}月{value.day}日"
    if locale == "en":
        return f"{value.day:02d} {_month_abbreviations(locale)[value.month]} {value.year}"
    return dates.format_date(value, _DATE_PATTERNS.get(locale, "medium"), locale=babel_locale(locale))


@lru_cache(maxsize=8)
def _month_abbreviations(locale: str) -> dict[int, str]:
    return dict(dates.get_month_names("abbreviated", locale=babel_locale(locale)))


def format_relative(value: datetime | None, now: datetime | None = None, *, locale: str | None = None) -> str:
    """'in 3 days' / '2 hours ago' ('3天后' / '2小时前')."""
    if value is None:
        return "—"
    now = _aware(now) if now else datetime.now(UTC)
    delta = _aware(value) - now
    if abs(delta) < timedelta(minutes=1):
        return gettext("now")
    return dates.format_timedelta(delta, add_direction=True, threshold=1, locale=babel_locale(locale))


def format_money(amount: int | None, currency: str | None = "USD", *, locale: str | None = None) -> str:
    """Integer minor units shown as the viewer's locale writes money ("$1,234.50", "US$1,234.50")."""
    if amount is None:
        return "—"
    return _money_text(int(amount), (currency or "USD").upper(), locale or current_locale())


@lru_cache(maxsize=4096)
def _money_text(amount: int, code: str, locale: str) -> str:
    """Babel's currency formatting is slow per call; a page repeats the same few amounts, so they are remembered."""
    value = Decimal(amount).scaleb(-CURRENCY_EXPONENTS.get(code, 2))
    return numbers.format_currency(value, code, locale=babel_locale(locale))


def format_number(value: int | float | Decimal | None, *, locale: str | None = None) -> str:
    if value is None:
        return "—"
    return numbers.format_decimal(value, locale=babel_locale(locale))


def format_percent(value: float | Decimal | None, *, locale: str | None = None) -> str:
    if value is None:
        return "—"
    return numbers.format_percent(value, locale=babel_locale(locale))


def format_basis_points(bps: int | None, *, times: bool = False, locale: str | None = None) -> str:
    """A ratio kept as whole basis points, shown exactly (no float on the way) as the viewer's locale writes it:
    ``1_234`` -> "12.34%"; with ``times`` (an ROI, "0.7269x" with a times sign) at least two decimals."""
    if bps is None:
        return "—"
    value = Decimal(int(bps)).scaleb(-4)
    if times:
        return f"{numbers.format_decimal(value, format='#,##0.00##', locale=babel_locale(locale))}\u00d7"
    return numbers.format_percent(value, format="#,##0.##%", locale=babel_locale(locale))


def parse_local_datetime(text: str, zone: str | None = None) -> datetime:
    """A ``datetime-local`` field ("2026-12-07T19:40") read as wall time in ``zone`` (the author's), returned in UTC.

    A time that doesn't exist (skipped by a DST change) or exists twice is resolved as ``zoneinfo`` does (fold=0).
    Raises ValueError for text that isn't a date and time.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    try:
        tz = ZoneInfo(normalise_zone(zone) or current_zone())
    except ZoneInfoNotFoundError:  # pragma: no cover - normalise_zone only passes known zones
        tz = ZoneInfo("UTC")
    return parsed.replace(tzinfo=tz).astimezone(UTC)


def to_local_input(value: datetime | None, zone: str | None = None) -> str:
    """The value a ``datetime-local`` field shows for a stored UTC moment, in ``zone``."""
    if value is None:
        return ""
    return _aware(value).astimezone(ZoneInfo(normalise_zone(zone) or current_zone())).strftime("%Y-%m-%dT%H:%M")
