"""Checking a roster entry's input, shared by the form, the JSON API and every row of a CSV import."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from marketplace.creators.services import HANDLE_RE, MAX_FOLLOWERS
from marketplace.forms import normalise_email, valid_email
from marketplace.gigs.validation import Checker
from marketplace.i18n import N_, gettext
from marketplace.roster.models import HANDLE_COLUMNS
from marketplace.verification.posts import platform_label

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
MAX_TAGS_PER_ENTRY = 30
#: Editable through forms, the API and CSV import; everything else on an entry is computed.
ENTRY_FIELDS = ("name", "email", "country", "followers", *HANDLE_COLUMNS, "notes", "owner")


def normalise_handle(raw: str) -> str:
    """"@Name", "name" and a profile URL ("https://www.tiktok.com/@name") are all the handle "name"."""
    text = raw.strip()
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    return text.lstrip("@").strip().lower()


def split_tags(raw: object) -> list[str]:
    parts = [str(p) for p in raw] if isinstance(raw, list | tuple) else re.split(r"[,;|]", str(raw or ""))
    return list(dict.fromkeys(p.strip().lower() for p in parts if p and p.strip()))


@dataclass
class EntryValues:
    """Checked values of one entry (only the fields that were given, for a partial update)."""

    values: dict[str, Any]
    tags: list[str] | None = None
    custom: dict[str, str] = field(default_factory=dict)


def check_entry(c: Checker, raw: Mapping[str, Any], *, field_keys: Sequence[str], team: Mapping[str, UUID],
                partial: bool = False, prefix: str = "") -> EntryValues:
    """Check an entry's input; messages go to ``prefix + field``. ``team`` maps a member's email to their user id."""
    values: dict[str, Any] = {}
    given = (lambda name: name in raw) if partial else (lambda name: True)
    if given("name"):
        values["name"] = c.text(prefix + "name", raw.get("name"), label=N_('Name'), max_length=120, required=True)
    if given("email"):
        email = normalise_email(c.text(prefix + "email", raw.get("email"), label=N_('Email'), max_length=320))
        if email and not valid_email(email):
            c.error(prefix + "email", gettext('Enter a valid email address, like name@example.com.'))
        values["email"] = email or None
    if given("country"):
        values["country"] = c.country(prefix + "country", raw.get("country"))
    if given("followers"):
        followers = raw.get("followers")
        if isinstance(followers, str):
            cleaned = re.sub(r"[\s,._']", "", followers)
            followers = int(cleaned) if cleaned.isdigit() else (followers.strip() or None)
        values["followers"] = c.integer(prefix + "followers", followers, label=N_('Followers'), minimum=0,
                                        maximum=MAX_FOLLOWERS) or 0
    for platform in HANDLE_COLUMNS:
        if given(platform):
            text = c.text(prefix + platform, raw.get(platform),
                          label=gettext("%(platform)s handle", platform=platform_label(platform)),
                          max_length=2000)
            handle = normalise_handle(text)
            if handle and not HANDLE_RE.match(handle):
                c.error(prefix + platform, gettext('A handle has letters, digits, dots, dashes or underscores only.'))
            values[platform] = handle or None
    if given("notes"):
        values["notes"] = c.text(prefix + "notes", raw.get("notes"), label=N_('Notes'), max_length=5000,
                                 single_line=False)
    if given("owner"):
        owner = normalise_email(c.text(prefix + "owner", raw.get("owner"), label=N_('Owner'), max_length=320))
        if owner and owner not in team:
            c.error(prefix + "owner", gettext('The owner must be a member of your team (their email).'))
        values["owner_id"] = team.get(owner) if owner else None
    if not partial and c.ok(prefix + "email") and not values.get("email") and not any(
        values.get(p) for p in HANDLE_COLUMNS
    ):
        c.error(prefix + "email", gettext('Give an email or at least one handle, so the person can be found again.'))
    tags: list[str] | None = None
    if "tags" in raw:
        tags = split_tags(raw.get("tags"))
        bad = [t for t in tags if not TAG_RE.match(t)]
        if bad:
            c.error(
                prefix + "tags",
                gettext("Tags are up to 40 letters, digits, spaces or dashes: %(bad)s.", bad=repr(bad[0][:40])),
            )
        elif len(tags) > MAX_TAGS_PER_ENTRY:
            c.error(
                prefix + "tags",
                gettext("At most %(max_tags_per_entry)s tags per person.", max_tags_per_entry=MAX_TAGS_PER_ENTRY),
            )
    custom: dict[str, str] = {}
    for key in field_keys:
        name = f"field:{key}"
        if name in raw:
            custom[key] = c.text(prefix + name, raw.get(name), label=key, max_length=500)
    return EntryValues(values, tags, custom)
