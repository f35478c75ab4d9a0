"""Roster CSV import (map columns, dry run with a per-row report, upsert) and export.

An import checks every row first; a row with any problem is reported (row number as the spreadsheet shows it, the
field, what's wrong) and changes nothing. Passing rows are upserted in chunks by entry id: a row is the same person as
an entry when its email, a handle or its PostPact account matches, so importing the same file twice changes nothing
the second time (rows whose values are already there are not written at all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from escrow.money import major_units
from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import Brand
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.csvfiles import CsvTable, csv_text, decode_csv, read_csv
from marketplace.db import insert_stmt
from marketplace.errors import NotFound
from marketplace.gigs.models import Gig
from marketplace.gigs.validation import Checker
from marketplace.i18n import gettext
from marketplace.notifications.mail import send_email
from marketplace.roster.bulkload import upsert_rows
from marketplace.roster.inputs import check_entry
from marketplace.roster.models import (
    HANDLE_COLUMNS,
    RosterEntry,
    RosterEntryTag,
    RosterImport,
    RosterImportMapping,
    RosterTag,
)
from marketplace.roster.query import RosterFilter, ordered, roster_query, tags_of
from marketplace.roster.services import RosterService
from marketplace.runtime import Runtime

CLAIM_PURPOSE = "roster-claim"
CLAIM_LIFETIME_DAYS = 30
#: Rows per INSERT: stays under PostgreSQL's 32,767 bind parameters (about 20 columns a row).
CHUNK = 1000
MAX_IMPORT_ROWS = 20_000
#: Fields a CSV column can fill (custom fields are ``field:<key>``); anything else is skipped.
IMPORT_FIELDS = ("name", "email", "country", "followers", *HANDLE_COLUMNS, "tags", "notes", "owner")
#: Headers that mean a field, beyond the field's own name (compared lower case, without spaces, dashes, "_", "@").
SYNONYMS = {
    "fullname": "name", "creator": "name", "creatorname": "name", "displayname": "name",
    "emailaddress": "email", "mail": "email",
    "tiktokhandle": "tiktok", "tt": "tiktok", "instagramhandle": "instagram", "ig": "instagram", "insta": "instagram",
    "youtubehandle": "youtube", "yt": "youtube", "youtubechannel": "youtube",
    "followercount": "followers", "audience": "followers",
    "tag": "tags", "labels": "tags", "note": "notes", "countrycode": "country",
}
EXPORT_HEADER = ("name", "email", "country", "followers", *HANDLE_COLUMNS, "tags", "owner", "notes")
EXPORT_COMPUTED = ("deals", "ghostings", "spend", "reliability", "last_contact", "on_postpact")


def _header_key(header: str) -> str:
    return re.sub(r"[\s_\-@]", "", header.strip().lower())


def auto_mapping(header: Sequence[str], field_keys: Sequence[str], saved: Mapping[str, str] | None = None,
                 ) -> dict[str, str]:
    """Header -> field: the saved mapping first, then obvious names; unknown columns map to "" (skipped)."""
    known = {*IMPORT_FIELDS, *(f"field:{k}" for k in field_keys)}
    by_key = {_header_key(f): f for f in known} | {k: v for k, v in SYNONYMS.items()}
    by_key |= {_header_key(k): f"field:{k}" for k in field_keys}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        chosen = (saved or {}).get(column)
        if chosen not in known:
            chosen = by_key.get(_header_key(column), "")
        if chosen in taken:
            chosen = ""
        mapping[column] = chosen or ""
        if chosen:
            taken.add(chosen)
    return mapping


def check_mapping(mapping: Mapping[str, str], header: Sequence[str], field_keys: Sequence[str]) -> dict[str, str]:
    known = {*IMPORT_FIELDS, *(f"field:{k}" for k in field_keys)}
    errors: dict[str, str] = {}
    used: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in header:
            errors["mapping"] = gettext('The file has no column %(column)s.', column=repr(column))
        elif target and target not in known:
            errors[f"mapping:{column}"] = gettext('%(target)s is not a roster field.', target=repr(target))
        elif target and target in used:
            errors[f"mapping:{column}"] = gettext(
                "%(target)s already fills %(target2)s.", target=repr(used[target]), target2=target
            )
        elif target:
            used[target] = column
    if "name" not in used:
        errors.setdefault("mapping", gettext("Choose the column that holds each person's name."))
    elif not ({"email", *HANDLE_COLUMNS} & set(used)):
        errors.setdefault("mapping", gettext('Choose a column with emails or handles, so people can be found again.'))
    return errors


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invited: int = 0
    errors: list[RowError] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    tags: list[str]
    custom: dict[str, str]
    creator_id: UUID | None = None
    #: The matching roster entry as a plain row (column attributes), if the person is already there.
    entry: Any = None
    #: The entry's id once written (new rows get theirs in ``_write``).
    entry_id: UUID | None = None


def _keys(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, values[name]) for name in ("email", *HANDLE_COLUMNS) if values.get(name)]


class RosterImporter:
    """Runs one file through checks and (unless dry) the upsert; nothing is written for a row that fails."""

    def __init__(self, roster: RosterService) -> None:
        self.roster = roster
        self.session: AsyncSession = roster.session
        self.runtime: Runtime = roster.runtime

    async def saved_mapping(self, brand_id: UUID) -> dict[str, str]:
        row = await self.session.scalar(sa.select(RosterImportMapping).where(RosterImportMapping.brand_id == brand_id))
        return dict(row.mapping) if row is not None else {}

    async def save_mapping(self, brand_id: UUID, mapping: Mapping[str, str]) -> None:
        now = self.runtime.clock.now()
        stmt = insert_stmt(self.session, RosterImportMapping.__table__).values(
            id=uuid7(), brand_id=brand_id, mapping=dict(mapping), created_at=now, updated_at=now)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=["brand_id"], set_={"mapping": stmt.excluded.mapping, "updated_at": now}))

    async def run(self, brand_id: UUID, table: CsvTable, mapping: Mapping[str, str] | None = None, *,
                  dry_run: bool, invite: bool = False, gig_id: UUID | None = None) -> ImportReport:
        if gig_id is not None and await self.session.scalar(
                sa.select(Gig.id).where(Gig.id == gig_id, Gig.brand_id == brand_id)) is None:
            raise NotFound(gettext('No such gig.'))  # another brand's gig is as unknown as a made-up id
        field_keys = await self.roster.field_keys(brand_id)
        if mapping is None:
            mapping = auto_mapping(table.header, field_keys, await self.saved_mapping(brand_id))
        report = ImportReport(dry_run=dry_run, rows=len(table.rows), mapping=dict(mapping))
        problems = check_mapping(mapping, table.header, field_keys)
        if problems:
            report.errors = [RowError(1, name, message) for name, message in problems.items()]
            report.invalid = report.rows
            return report
        if len(table.rows) > MAX_IMPORT_ROWS:
            report.errors = [RowError(1, "file", f"At most {MAX_IMPORT_ROWS:,} rows per import; split the file.")]
            report.invalid = report.rows
            return report
        team = {t.email: t.user_id for t in await self.roster.team(brand_id)}
        rows = self._check_rows(table, mapping, field_keys, team, report)
        await self._link_creators(rows)
        await self._match_entries(brand_id, rows, report)
        good = [r for r in rows if r.number not in {e.row for e in report.errors}]
        report.invalid = len({e.row for e in report.errors})
        report.valid = len(good)
        existing_tags = await self._existing_tags([r.entry.id for r in good if r.entry is not None])
        changed = [r for r in good if self._changes(r, existing_tags)]
        report.created = sum(1 for r in changed if r.entry is None)
        report.updated = len(changed) - report.created
        report.unchanged = len(good) - len(changed)
        if dry_run:
            return report
        await self.save_mapping(brand_id, mapping)
        await self._write(brand_id, changed, mapping)
        if invite:
            report.invited = await self._invite(brand_id, gig_id, good)
        return report

    # --- checking ----------------------------------------------------------------------------------------------

    def _check_rows(self, table: CsvTable, mapping: Mapping[str, str], field_keys: Sequence[str],
                    team: Mapping[str, UUID], report: ImportReport) -> list[_Row]:
        rows: list[_Row] = []
        seen: dict[tuple[str, str], int] = {}
        for number, record in table.records():
            # A blank cell says nothing: it never clears what the roster already knows (name is always checked).
            raw = {target: record.get(column, "") for column, target in mapping.items()
                   if target and (target == "name" or record.get(column, "").strip())}
            c = Checker()
            checked = check_entry(c, raw, field_keys=field_keys, team=team, partial=True)
            if c.ok("email") and not _keys(checked.values):
                c.error("email", gettext('Give an email or at least one handle, so the person can be found again.'))
            for key in _keys(checked.values):
                if key in seen and c.ok(key[0]):
                    c.error(key[0], gettext('The same %(key)s as row %(key2)s.', key=key[0], key2=seen[key]))
            for name, message in c.errors.items():
                report.errors.append(RowError(number, name, message))
            if c.errors:
                continue
            for key in _keys(checked.values):
                seen[key] = number
            rows.append(_Row(number, checked.values, checked.tags or [], checked.custom))
        return rows

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    @property
    def _lookup_chunk(self) -> int:
        # PostgreSQL takes a whole file's values as one array parameter; SQLite gets IN lists of a few hundred.
        return MAX_IMPORT_ROWS if self._postgres else 500

    def _one_of(self, column: Any, values: Sequence[str]) -> Any:
        """``column IN (values)`` — as ``= ANY(:array)`` on PostgreSQL, one parameter however many values."""
        if self._postgres:
            return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String)))
        return column.in_(values)

    async def _link_creators(self, rows: Sequence[_Row]) -> None:
        """PostPact creators by email, then by platform handle: two queries per chunk."""
        for start in range(0, len(rows), self._lookup_chunk):
            chunk = rows[start:start + self._lookup_chunk]
            emails = [r.values["email"] for r in chunk if r.values.get("email")]
            by_email = dict((await self.session.execute(
                sa.select(User.email, Creator.id).join(Creator, Creator.user_id == User.id)
                .where(User.kind == UserKind.CREATOR, self._one_of(User.email, emails))
            )).all()) if emails else {}
            pairs = [(p, r.values[p]) for r in chunk for p in HANDLE_COLUMNS if r.values.get(p)]
            by_handle: dict[tuple[str, str], UUID] = {}
            if pairs:
                result = await self.session.execute(
                    sa.select(SocialAccount.platform, SocialAccount.handle, SocialAccount.creator_id)
                    .where(self._one_of(SocialAccount.handle, [h for _, h in pairs]))
                )
                by_handle = {(str(Platform(p)), h): c for p, h, c in result}
            for r in chunk:
                r.creator_id = by_email.get(r.values.get("email") or "") or next(
                    (by_handle[(p, r.values[p])] for p in HANDLE_COLUMNS if (p, r.values.get(p)) in by_handle), None)

    async def _match_entries(self, brand_id: UUID, rows: Sequence[_Row], report: ImportReport) -> None:
        """Find the existing entry of each row; a row matching two different entries is an error on its field."""
        for start in range(0, len(rows), self._lookup_chunk):
            chunk = rows[start:start + self._lookup_chunk]
            clauses = []
            for name in ("email", *HANDLE_COLUMNS):
                values = [r.values[name] for r in chunk if r.values.get(name)]
                if values:
                    clauses.append(self._one_of(getattr(RosterEntry, name), values))
            creator_ids = [r.creator_id for r in chunk if r.creator_id is not None]
            if creator_ids:
                clauses.append(RosterEntry.creator_id.in_(creator_ids))
            if not clauses:
                continue
            # Plain rows, not ORM objects: thousands of them are read only to compare and copy values.
            entries = list(await self.session.execute(
                sa.select(*RosterEntry.__table__.c).where(RosterEntry.brand_id == brand_id, sa.or_(*clauses))))
            index: dict[tuple[str, Any], Any] = {}
            for e in entries:
                for name in ("email", *HANDLE_COLUMNS, "creator_id"):
                    if getattr(e, name):
                        index[(name, getattr(e, name))] = e
            for r in chunk:
                keys = [*_keys(r.values), *([("creator_id", r.creator_id)] if r.creator_id else [])]
                found = {(name, index[(name, value)].id): index[(name, value)] for name, value in keys
                         if (name, value) in index}
                distinct = {e.id: e for e in found.values()}
                if len(distinct) > 1:
                    first_field = next(name for name, _ in found)
                    names = " and ".join(sorted(e.name for e in distinct.values()))
                    report.errors.append(RowError(r.number, "email" if first_field == "creator_id" else first_field,
                                                  f"Matches two people already on your roster ({names})."))
                elif distinct:
                    r.entry = next(iter(distinct.values()))

    async def _existing_tags(self, entry_ids: Sequence[UUID]) -> dict[UUID, set[str]]:
        found: dict[UUID, set[str]] = {}
        if self._postgres and entry_ids:
            # One query with the ids as an array parameter (a re-imported 10k file would otherwise take 20 queries).
            ids = sa.bindparam(None, list(entry_ids), type_=postgresql.ARRAY(postgresql.UUID(as_uuid=True)))
            rows = await self.session.execute(
                sa.select(RosterEntryTag.entry_id, RosterTag.name)
                .join(RosterTag, RosterTag.id == RosterEntryTag.tag_id).where(RosterEntryTag.entry_id == sa.any_(ids)))
            for entry_id, name in rows:
                found.setdefault(entry_id, set()).add(name)
            return found
        for start in range(0, len(entry_ids), self._lookup_chunk):
            for entry_id, names in (await tags_of(self.session, entry_ids[start:start + self._lookup_chunk])).items():
                found[entry_id] = set(names)
        return found

    @staticmethod
    def _changes(r: _Row, existing_tags: Mapping[UUID, set[str]]) -> bool:
        e = r.entry
        if e is None:
            return True
        if any(getattr(e, name) != value for name, value in r.values.items()):
            return True
        if r.creator_id is not None and e.creator_id is None:
            return True
        if any((e.custom_fields or {}).get(k) != v for k, v in r.custom.items()):
            return True
        return not set(r.tags) <= existing_tags.get(e.id, set())

    # --- writing -----------------------------------------------------------------------------------------------

    async def _write(self, brand_id: UUID, rows: Sequence[_Row], mapping: Mapping[str, str]) -> None:
        now = self.runtime.clock.now()
        mapped = {t for t in mapping.values() if t and t in RosterEntry.__table__.c} | (
            {"owner_id"} if "owner" in mapping.values() else set())
        updatable = sorted(mapped | {"custom_fields", "creator_id", "updated_at"})
        tag_rows: list[tuple[UUID, list[str]]] = []
        values = []
        for r in rows:
            e = r.entry
            base: dict[str, Any] = {
                "id": e.id if e else uuid7(), "brand_id": brand_id, "name": "", "email": None, "country": None,
                "followers": 0, "owner_id": None, "notes": "", "source": "imported", "last_contact_at": None,
                "invited_at": None, "created_at": now, **{p: None for p in HANDLE_COLUMNS},
            }
            if e is not None:
                base |= {c: getattr(e, c) for c in base if c not in ("id", "brand_id", "created_at")}
                base["created_at"] = e.created_at
            base |= r.values
            base["creator_id"] = (e.creator_id if e else None) or r.creator_id
            base["custom_fields"] = {**((e.custom_fields or {}) if e else {}), **r.custom}
            base["updated_at"] = now
            values.append(base)
            if r.tags:
                tag_rows.append((base["id"], r.tags))
            r.entry_id = base["id"]
        # One upsert for the whole file (COPY + INSERT ... SELECT on PostgreSQL; see bulkload).
        await upsert_rows(self.session, RosterEntry.__table__, values, conflict=["id"], update=updatable)
        await self._write_tags(brand_id, tag_rows)

    async def _write_tags(self, brand_id: UUID, tag_rows: Sequence[tuple[UUID, list[str]]]) -> None:
        """Add (never remove) the rows' tags: an import only adds what the file says."""
        if not tag_rows:
            return
        ids = await self.roster.tag_ids(brand_id, sorted({t for _, tags in tag_rows for t in tags}))
        now = self.runtime.clock.now()
        await upsert_rows(self.session, RosterEntryTag.__table__, [
            {"id": uuid7(), "entry_id": entry_id, "tag_id": ids[t], "created_at": now, "updated_at": now}
            for entry_id, tags in tag_rows for t in tags
        ], conflict=["entry_id", "tag_id"])

    async def _invite(self, brand_id: UUID, gig_id: UUID | None, rows: Sequence[_Row]) -> int:
        """Email a claim link to people not on PostPact who were never invited (so a re-import sends nothing)."""
        ids = [r.entry_id or (r.entry.id if r.entry else None) for r in rows
               if r.values.get("email") and r.creator_id is None]
        ids = [i for i in ids if i is not None]
        if not ids:
            return 0
        brand = await self.session.get(Brand, brand_id)
        gig = await self.session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == brand_id)) \
            if gig_id else None
        assert brand is not None
        sent = 0
        now = self.runtime.clock.now()
        for start in range(0, len(ids), CHUNK):
            entries = list(await self.session.scalars(sa.select(RosterEntry).where(
                RosterEntry.id.in_(ids[start:start + CHUNK]), RosterEntry.invited_at.is_(None),
                RosterEntry.creator_id.is_(None), RosterEntry.email.is_not(None),
            ).with_for_update()))
            for entry in entries:
                await send_email(self.session, entry.email or "", "roster_claim", category="roster", brand=brand,
                                 gig=gig, name=entry.name, link=claim_link(self.runtime, entry, gig),
                                 days=CLAIM_LIFETIME_DAYS)
                entry.invited_at = now
                entry.last_contact_at = now
                sent += 1
        await self.session.flush()
        return sent


async def store_upload(roster: RosterService, brand_id: UUID, user_id: UUID, filename: str,
                       data: bytes) -> RosterImport:
    """Keep an uploaded file between the mapping, dry-run and import steps (refused at once if it can't be read)."""
    text = decode_csv(data)
    read_csv(text, max_rows=MAX_IMPORT_ROWS)
    upload = RosterImport(brand_id=brand_id, created_by_id=user_id, filename=filename[:200], content=text)
    roster.session.add(upload)
    await roster.session.flush()
    return upload


async def load_upload(roster: RosterService, brand_id: UUID, import_id: UUID) -> RosterImport:
    upload = await roster.session.scalar(
        sa.select(RosterImport).where(RosterImport.id == import_id, RosterImport.brand_id == brand_id))
    if upload is None:
        raise NotFound(gettext('No such import.'))
    return upload


def claim_link(runtime: Runtime, entry: RosterEntry, gig: Gig | None) -> str:
    payload = {"e": str(entry.id), "b": str(entry.brand_id), "g": str(gig.id) if gig else ""}
    return f"{runtime.settings.app.public_url}/roster/claim/{runtime.signer.dumps(CLAIM_PURPOSE, payload)}"


# --- export -------------------------------------------------------------------------------------------------------


async def export_csv(roster: RosterService, brand_id: UUID, filters: RosterFilter) -> str:
    """The roster (or the filtered part of it) as a CSV that re-imports to the same entries."""
    field_keys = await roster.field_keys(brand_id)
    team = {t.user_id: t.email for t in await roster.team(brand_id)}
    query = ordered(roster_query(roster.session, brand_id, filters), brand_id, "name")
    lines: list[list[object]] = []
    result = await roster.session.stream_scalars(query.execution_options(yield_per=CHUNK))
    async for batch in result.partitions(CHUNK):
        for row in await roster.rows_for(brand_id, list(batch)):
            e = row.entry
            spend = "; ".join(f"{currency} {major_units(amount, currency)}"
                              for currency, amount in sorted(row.stats.spend.items()))
            reliability = row.reputation.reliability if row.reputation else None
            lines.append([
                e.name, e.email or "", e.country or "", e.followers, *(getattr(e, p) or "" for p in HANDLE_COLUMNS),
                ", ".join(row.tags), team.get(e.owner_id, "") if e.owner_id else "", e.notes,
                *((e.custom_fields or {}).get(k, "") for k in field_keys),
                row.stats.deals, row.stats.ghostings, spend,
                f"{reliability:.3f}" if reliability is not None else "",
                row.last_contact.isoformat() if row.last_contact else "", "yes" if e.creator_id else "no",
            ])
    return csv_text([*EXPORT_HEADER, *(f"field:{k}" for k in field_keys), *EXPORT_COMPUTED], lines)
