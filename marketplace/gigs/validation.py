"""Checking typed input from forms and the JSON API alike: one message per field, nothing stored until all pass."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TypeVar

from escrow.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from marketplace.errors import InvalidInput
from marketplace.forms import text_problem, valid_http_url
from marketplace.i18n import N_, gettext

E = TypeVar("E", bound=Enum)

#: ISO 3166-1 alpha-2 codes (officially assigned), so "country" filters and eligibility compare real codes.
_COUNTRY_LIST = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO
    JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR
    MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
    RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV
    TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"""
COUNTRY_CODES = frozenset(_COUNTRY_LIST.split())
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
NICHE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: The smallest base fee or counter-offer, in minor units, by the currency's exponent: one whole unit of a
#: two-decimal currency ($1.00, EUR 1.00), 100 units of a zero-decimal one (JPY 100); KRW 1,000, as 100 won is a few
#: cents. A $0 deal would be "funded" with nothing held, and below these the card fees exceed the fee.
MIN_FEE_BY_EXPONENT = {2: 100, 0: 100}
MIN_FEE_OVERRIDES = {"KRW": 1_000}


def minimum_fee(currency: str) -> int:
    return MIN_FEE_OVERRIDES.get(currency, MIN_FEE_BY_EXPONENT[CURRENCY_EXPONENTS[currency]])


def format_minor(amount: int, currency: str) -> str:
    """``100, "USD"`` -> ``"1.00 USD"``; ``100, "JPY"`` -> ``"100 JPY"``."""
    places = CURRENCY_EXPONENTS.get(currency, 2)
    whole, fraction = divmod(amount, 10**places) if places else (amount, 0)
    return f"{whole:,}.{fraction:0{places}d} {currency}" if places else f"{whole:,} {currency}"


HASHTAG_RE = re.compile(r"^#?([^\W]{1,60})$")
MENTION_RE = re.compile(r"^@?([\w.]{1,60})$")


class Checker:
    """Collects one message per field; ``raise_if_invalid()`` turns them into InvalidInput (422 / problem details)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def ok(self, name: str) -> bool:
        return name not in self.errors

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)

    def text(
        self,
        name: str,
        value: object,
        *,
        label: str,
        max_length: int,
        required: bool = False,
        single_line: bool = True,
    ) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.error(name, gettext('%(label)s must be text.', label=label))
            return ""
        problem = text_problem(value)
        if problem:
            self.error(name, f"{label} {problem}.")
            return ""
        value = value.strip()
        if single_line:
            value = re.sub(r"\s+", " ", value)
        if required and not value:
            self.error(name, gettext('%(label)s is required.', label=label))
        elif len(value) > max_length:
            self.error(
                name,
                gettext(
                    "%(label)s must be at most %(max_length)s characters.",
                    label=label,
                    max_length=format(max_length, ","),
                ),
            )
            return ""
        return value

    def url(self, name: str, value: object, *, label: str, required: bool = False) -> str | None:
        text = self.text(name, value, label=label, max_length=2000, required=required)
        if not text:
            return None
        if not valid_http_url(text):
            self.error(name, gettext('%(label)s must be a full web address starting with https://', label=label))
            return None
        return text

    def integer(
        self, name: str, value: object, *, label: str, minimum: int, maximum: int, required: bool = False
    ) -> int | None:
        if value is None or value == "":
            if required:
                self.error(name, gettext('%(label)s is required.', label=label))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, gettext('%(label)s must be a whole number.', label=label))
            return None
        if value < minimum:
            self.error(
                name,
                (
                    gettext("%(label)s must be at least %(minimum)s.", label=label, minimum=format(minimum, ","))
                    if minimum
                    else gettext("%(label)s can't be negative.", label=label)
                ),
            )
            return None
        if value > maximum:
            self.error(
                name, gettext("%(label)s must be at most %(maximum)s.", label=label, maximum=format(maximum, ","))
            )
            return None
        return value

    def amount(self, name: str, value: object, *, label: str, required: bool = False) -> int | None:
        """Minor units of money: a whole number from 0 to the largest single payment we accept."""
        return self.integer(name, value, label=label, minimum=0, maximum=MAX_AMOUNT, required=required)

    def fee(self, name: str, value: object, currency: str, *, label: str, required: bool = False) -> int | None:
        """A fee (a gig's base fee, a counter-offer): an amount of at least the currency's minimum fee."""
        amount = self.amount(name, value, label=label, required=required)
        if amount is not None and currency in CURRENCY_EXPONENTS and amount < minimum_fee(currency):
            minimum = minimum_fee(currency)
            self.error(
                name,
                gettext(
                    "%(label)s must be at least %(currency)s (%(minimum)s minor units).",
                    label=label,
                    currency=format_minor(minimum, currency),
                    minimum=minimum,
                ),
            )
            return None
        return amount

    def currency(self, name: str, value: object) -> str:
        code = value.strip().upper() if isinstance(value, str) else ""
        if code not in CURRENCY_EXPONENTS:
            self.error(
                name,
                gettext(
                    "Currency must be one of: %(currency_exponents)s.",
                    currency_exponents=", ".join(sorted(CURRENCY_EXPONENTS)),
                ),
            )
            return "USD"
        return code

    def choice(self, name: str, value: object, enum_cls: type[E], *, label: str, required: bool = True) -> E | None:
        if value is None or value == "":
            if required:
                self.error(name, gettext('Choose a %(label)s.', label=label.lower()))
            return None
        try:
            return enum_cls(value.strip().lower() if isinstance(value, str) else value)
        except ValueError:
            self.error(
                name,
                gettext(
                    "%(label)s must be one of: %(enum_cls)s.",
                    label=label,
                    enum_cls=", ".join(str(m.value) for m in enum_cls),
                ),
            )
            return None

    def choices(self, name: str, values: Iterable[object] | None, enum_cls: type[E], *, label: str) -> list[E]:
        result: list[E] = []
        for value in values or []:
            member = self.choice(name, value, enum_cls, label=label)
            if member is not None and member not in result:
                result.append(member)
        return result

    def country(self, name: str, value: object, *, label: str = "Country", required: bool = False) -> str | None:
        code = value.strip().upper() if isinstance(value, str) else ""
        if not code:
            if required:
                self.error(name, gettext('%(label)s is required.', label=label))
            return None
        if code not in COUNTRY_CODES:
            self.error(name, gettext('%(label)s must be a two-letter country code, like US or DE.', label=label))
            return None
        return code

    def countries(self, name: str, values: Iterable[object] | None, *, max_items: int = 60) -> list[str]:
        result: list[str] = []
        for value in values or []:
            code = self.country(name, value, label=N_('Each country'))
            if code and code not in result:
                result.append(code)
        if len(result) > max_items:
            self.error(name, gettext('At most %(max_items)s countries.', max_items=max_items))
        return result[:max_items]

    def words(
        self, name: str, values: Iterable[object] | None, *, pattern: re.Pattern[str], label: str, max_items: int,
        example: str, prefix: str = "",
    ) -> list[str]:
        """Tags like niches, languages, hashtags: normalised, de-duplicated, each checked against ``pattern``."""
        result: list[str] = []
        for value in values or []:
            if not isinstance(value, str) or text_problem(value):
                self.error(name, gettext('Each %(label)s must be text.', label=label))
                continue
            word = value.strip().lower() if not prefix else value.strip()
            if not word:
                continue
            match = pattern.match(word)
            if not match:
                self.error(
                    name,
                    gettext(
                        "'%(word)s' is not a valid %(label)s; use something like %(example)s.",
                        word=word[:40],
                        label=label,
                        example=example,
                    ),
                )
                continue
            word = prefix + (match.group(1) if match.groups() else word)
            if word.lower() not in [w.lower() for w in result]:
                result.append(word)
        if len(result) > max_items:
            self.error(name, gettext('At most %(max_items)s entries.', max_items=max_items))
        return result[:max_items]

    def future(self, name: str, value: datetime | None, *, now: datetime, label: str, max_days: int) -> None:
        if value is None:
            return
        if value <= now:
            self.error(name, gettext('%(label)s must be in the future.', label=label))
        elif (value - now).days > max_days:
            self.error(
                name, gettext("%(label)s must be within %(max_days)s days from now.", label=label, max_days=max_days)
            )


def split_words(raw: str) -> list[str]:
    """Comma- or space-separated words as typed into a form field."""
    return [p for p in re.split(r"[,\s]+", raw or "") if p]
