"""Checking free text and links typed into deal forms and API bodies, collecting one message per field."""

from __future__ import annotations

from marketplace.forms import valid_http_url

REASON_MAX = 2_000
URL_MAX = 2_000


def clean_text(errors: dict[str, str], name: str, value: str | None, *, label: str, max_length: int,
               required: bool = False, min_length: int = 0) -> str:
    """Trimmed text, or a message in ``errors``: too long, missing, or characters no database stores (NUL,
    unpaired surrogates) — so odd input is a field error, never a 500."""
    text = (value or "").strip()
    if "\x00" in text:
        errors.setdefault(name, f"{label} contains characters that aren't allowed.")
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        errors.setdefault(name, f"{label} contains characters that aren't allowed.")
        return ""
    if required and not text:
        errors.setdefault(name, f"{label} is required.")
    elif len(text) > max_length:
        errors.setdefault(name, f"{label} must be at most {max_length:,} characters.")
    elif text and len(text) < min_length:
        errors.setdefault(name, f"{label} must be at least {min_length} characters.")
    return text


def clean_url(errors: dict[str, str], name: str, value: str | None, *, label: str, required: bool) -> str | None:
    text = clean_text(errors, name, value, label=label, max_length=URL_MAX, required=required)
    if name in errors or not text:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or not valid_http_url(text):
        errors.setdefault(name, f"{label} must be a full web address starting with https://")
        return None
    return text
