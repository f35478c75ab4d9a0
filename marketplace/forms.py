"""Reading HTML form fields into typed values while collecting a message per bad field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlparse
from uuid import UUID

from marketplace.errors import InvalidInput
from marketplace.i18n import N_, format_number, gettext, parse_local_datetime

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def text_problem(value: str) -> str | None:
    """Characters no database column should take: NUL (PostgreSQL refuses it) and unpaired surrogates."""
    if "\x00" in value:
        return gettext("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return gettext("contains characters that are not valid text")
    return None


def normalise_email(value: str) -> str:
    return value.strip().lower()


def valid_email(value: str) -> bool:
    return len(value) <= 320 and bool(EMAIL_RE.match(value)) and text_problem(value) is None


def valid_http_url(value: str) -> bool:
    try:
        parsed = urlparse(value)
    except ValueError:
        return False
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc) and " " not in value and len(value) <= 2000


#: Longest free-text reason and link the deal and dispute forms take.
REASON_MAX = 2_000
URL_MAX = 2_000


def clean_text(errors: dict[str, str], name: str, value: str | None, *, label: str, max_length: int,
               required: bool = False, min_length: int = 0, too_short: str = "") -> str:
    """Trimmed text, or a message in ``errors``: characters no database stores (``text_problem``), missing, too
    short (``too_short`` says why it matters) or too long - so odd input is a field error, never a 500."""
    text = (value or "").strip()
    label = field_label(label, name)
    if text_problem(text):
        errors.setdefault(name, gettext("%(label)s contains characters that aren't allowed.", label=label))
        return ""
    if required and not text:
        errors.setdefault(name, gettext("%(label)s is required.", label=label))
    elif len(text) > max_length:
        errors.setdefault(name, gettext("%(label)s must be at most %(max)s characters.", label=label,
                                        max=format_number(max_length)))
    elif text and len(text) < min_length:
        # ``too_short`` (marked with N_ by the caller) says why the length matters: ": say what happened".
        errors.setdefault(name, gettext("%(label)s must be at least %(min)s characters%(why)s.", label=label,
                                        min=min_length, why=gettext(too_short) if too_short else ""))
    return text


def clean_url(errors: dict[str, str], name: str, value: str | None, *, label: str, required: bool) -> str | None:
    text = clean_text(errors, name, value, label=label, max_length=URL_MAX, required=required)
    if name in errors or not text:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or not valid_http_url(text):
        errors.setdefault(name, gettext("%(label)s must be a full web address starting with https://",
                                        label=field_label(label, name)))
        return None
    return text


def field_label(label: str | None, name: str) -> str:
    """A field's name in a message, in the reader's language (labels are marked with ``N_`` where they are given)."""
    return gettext(label) if label else gettext(name.replace("_", " ").capitalize())


class FormReader:
    """``f = FormReader(form); email = f.email("email"); if f.errors: ...`` — one place for parse rules."""

    def __init__(self, data: Mapping[str, Any] | Any) -> None:
        self._data = data
        self.errors: dict[str, str] = {}

    def _raw(self, name: str) -> str:
        value = self._data.get(name) if hasattr(self._data, "get") else None
        if isinstance(value, list):
            value = value[-1] if value else None
        if value is None:
            return ""
        return self._clean(name, value if isinstance(value, str) else str(value))

    def _clean(self, name: str, value: str) -> str:
        """A field holding text no column can store (NUL, a lone surrogate) gets a message here, for every form; the
        value is passed on as sent, for handlers whose own rules say more. Nothing reaches the database with it
        (``marketplace.input_guard.refuse_unstorable_text``)."""
        problem = text_problem(value)
        if problem is not None:
            self.error(name, gettext("%(label)s %(problem)s.", label=field_label(None, name), problem=problem))
        return value

    def values(self, name: str) -> list[str]:
        if hasattr(self._data, "getall"):
            try:
                raw = self._data.getall(name)
            except KeyError:
                raw = []
        else:
            raw = self._data.get(name, [])
        if isinstance(raw, str):
            raw = [raw]
        cleaned = (self._clean(name, v) for v in raw if isinstance(v, str))
        return [v.strip() for v in cleaned if v.strip()]

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        max_length: int = 200,
        min_length: int = 0,
        strip: bool = True,
        label: str | None = None,
    ) -> str:
        value = self._raw(name)
        if strip:
            value = value.strip()
        label = field_label(label, name)
        if required and not value:
            self.error(name, gettext("%(label)s is required.", label=label))
        elif len(value) > max_length:
            self.error(name, gettext("%(label)s must be at most %(max)s characters.", label=label,
                                     max=format_number(max_length)))
        elif value and len(value) < min_length:
            self.error(name, gettext("%(label)s must be at least %(min)s characters.", label=label, min=min_length))
        return value

    def email(self, name: str = "email", *, required: bool = True) -> str:
        value = normalise_email(self._raw(name))
        if not value:
            if required:
                self.error(name, gettext("Email is required."))
        elif not valid_email(value):
            self.error(name, gettext("Enter a valid email address, like name@example.com."))
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        label: str | None = None,
    ) -> int | None:
        raw = self._raw(name).strip()
        label = field_label(label, name)
        if not raw:
            if required:
                self.error(name, gettext("%(label)s is required.", label=label))
            return None
        try:
            value = int(raw)
        except ValueError:
            self.error(name, gettext("%(label)s must be a whole number.", label=label))
            return None
        if minimum is not None and value < minimum:
            self.error(name, gettext("%(label)s must be at least %(min)s.", label=label, min=minimum))
        elif maximum is not None and value > maximum:
            self.error(name, gettext("%(label)s must be at most %(max)s.", label=label, max=maximum))
        return value

    def decimal_minor(
        self, name: str, *, exponent: int = 2, required: bool = False, minimum: int | None = 0, label: str | None = None
    ) -> int | None:
        """Read an amount typed in major units ("12.50") as integer minor units (1250) without floats."""
        raw = self._raw(name).strip().replace(",", "")
        label = field_label(label, name)
        if not raw:
            if required:
                self.error(name, gettext("%(label)s is required.", label=label))
            return None
        match = re.fullmatch(r"(-?)(\d{1,12})(?:\.(\d+))?", raw)
        if not match or (match.group(3) and len(match.group(3)) > exponent):
            if exponent:
                self.error(name, gettext("%(label)s must be an amount with up to %(places)s decimal places, like "
                                         "12.50.", label=label, places=exponent))
            else:
                self.error(name, gettext("%(label)s must be an amount with no decimal places, like 1200.",
                                         label=label))
            return None
        sign, whole, frac = match.groups()
        value = int(whole) * 10**exponent + int((frac or "").ljust(exponent, "0") or 0)
        value = -value if sign else value
        if minimum is not None and value < minimum:
            self.error(name, gettext("%(label)s can't be negative.", label=label) if minimum == 0
                       else gettext("%(label)s is too small.", label=label))
        return value

    def boolean(self, name: str) -> bool:
        return self._raw(name).strip().lower() in {"1", "true", "on", "yes"}

    def choice(self, name: str, enum_cls: type[E], *, required: bool = True, label: str | None = None) -> E | None:
        raw = self._raw(name).strip()
        label = field_label(label, name)
        if not raw:
            if required:
                self.error(name, gettext("Choose a %(label)s.", label=label.lower()))
            return None
        try:
            return enum_cls(raw)
        except ValueError:
            self.error(name, gettext("%(label)s must be one of: %(values)s.", label=label,
                                     values=", ".join(str(m.value) for m in enum_cls)))
            return None

    def url(self, name: str, *, required: bool = False, label: str | None = None) -> str:
        value = self._raw(name).strip()
        label = field_label(label, name)
        if not value:
            if required:
                self.error(name, gettext("%(label)s is required.", label=label))
        elif not valid_http_url(value):
            self.error(name, gettext("%(label)s must be a full web address starting with https://", label=label))
        return value

    def _iso(self, name: str, parse: Callable[[str], T], *, required: bool, label: str | None, example: str
             ) -> T | None:
        raw = self._raw(name).strip()
        label = field_label(label, name)
        if not raw:
            if required:
                self.error(name, gettext("%(label)s is required.", label=label))
            return None
        try:
            return parse(raw)
        except ValueError:
            self.error(name, gettext("%(label)s must be %(example)s.", label=label, example=gettext(example)))
            return None

    def date(self, name: str, *, required: bool = False, label: str | None = None) -> date | None:
        return self._iso(name, date.fromisoformat, required=required, label=label,
                         example=N_("a date like 2026-12-31"))

    def datetime(self, name: str, *, required: bool = False, label: str | None = None) -> datetime | None:
        """A moment typed as wall time is read in the author's time zone (the request's: marketplace.i18n)."""
        value = self._iso(name, datetime.fromisoformat, required=required, label=label,
                          example=N_("a date and time like 2026-12-31T18:00"))
        if value is None:
            return None
        return parse_local_datetime(value.isoformat()) if value.tzinfo is None else value

    def tags(self, name: str, *, max_items: int = 20, max_length: int = 40) -> list[str]:
        """Comma- or space-separated words, or repeated fields; lower-cased and de-duplicated."""
        parts: list[str] = []
        for raw in self.values(name) or [self._raw(name)]:
            parts.extend(p for p in re.split(r"[,\s]+", raw) if p)
        seen: list[str] = []
        for part in parts:
            tag = part.strip().lower()
            if tag and tag not in seen:
                seen.append(tag)
        if len(seen) > max_items:
            self.error(name, gettext("At most %(max)s entries.", max=max_items))
        if any(len(t) > max_length for t in seen):
            self.error(name, gettext("Each entry must be at most %(max)s characters.", max=max_length))
        return seen[:max_items]

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def parse_uuid(raw: str | None, field: str, errors: dict[str, str], message: str = "Not a valid id.") -> UUID | None:
    """An optional id from a query string or form: None when absent, a field error when malformed."""
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        errors[field] = message
        return None


