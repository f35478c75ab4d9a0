"""Gig discovery for creators: filters, sort orders with keyset pagination, and full-text search on both databases."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from escrow.money import CURRENCY_EXPONENTS
from marketplace.creators.models import Platform
from marketplace.forms import FormReader
from marketplace.gigs.keyset import SortKey
from marketplace.gigs.models import Deliverable, Gig, GigNiche, GigStatus, gig_search, gig_search_term
from marketplace.gigs.validation import NICHE_RE, Checker
from marketplace.i18n import N_, gettext

# Search statements are built from the Core tables: ORM attributes cost a comparator chain per condition and make
# the statement load entities, and a results page needs neither.
GIG = Gig.__table__.c
DELIVERABLE = Deliverable.__table__.c
GIG_NICHE = GigNiche.__table__.c
#: PostgreSQL's narrow copy of what the filters and sorts read, one row per open gig (models.gig_search).
SEARCH = gig_search.c

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 8
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

SORTS: dict[str, SortKey] = {
    "newest": SortKey(GIG.published_at, GIG.id, descending=True, kind="datetime"),
    "fee": SortKey(GIG.base_fee_amount, GIG.id, descending=True, kind="int"),
    "deadline": SortKey(GIG.apply_by, GIG.id, descending=False, kind="datetime", nullable=True),
}

#: The same orders over the search table (PostgreSQL); cursors are the same, as its rows copy the gig's values.
SEARCH_SORTS: dict[str, SortKey] = {
    "newest": SortKey(SEARCH.published_at, SEARCH.gig_id, descending=True, kind="datetime"),
    "fee": SortKey(SEARCH.base_fee_amount, SEARCH.gig_id, descending=True, kind="int"),
    "deadline": SortKey(SEARCH.apply_by, SEARCH.gig_id, descending=False, kind="datetime", nullable=True),
}

#: What a result card and its eligibility check read (the brief and the deal terms stay in the table).
CARD_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    GIG.id, GIG.brand_id, GIG.title, GIG.currency, GIG.base_fee_amount, GIG.product_included, GIG.product_name,
    GIG.product_retail_value, GIG.apply_by, GIG.published_at, GIG.eligible_platforms, GIG.min_followers,
    GIG.max_followers, GIG.eligible_countries, GIG.min_reliability, GIG.min_tier, GIG.verified_audience_required,
    GIG.product_image_key, GIG.product_image_url,
)
#: Every column the API shows (the stored full-text document is never read back).
ALL_COLUMNS: tuple[sa.ColumnElement[Any], ...] = tuple(
    c for c in Gig.__table__.c if c.key not in {"search_vector", "niches", "sa_orm_sentinel"}
)
SORT_LABELS = {"newest": "Newest", "fee": "Highest fee", "deadline": "Closing soonest"}


def search_terms(*texts: str | None) -> set[str]:
    """The words a gig is found by on SQLite (lower-case letters and digits, 2-40 long). Migration 0003 copies this."""
    return {w for text in texts for w in _WORD.findall((text or "").lower()) if 2 <= len(w) <= 40}


def query_terms(q: str) -> list[str]:
    """The words of a search box, in order, each matched as a word prefix ("shoe" finds "shoes")."""
    words = [w[:40] for w in _WORD.findall((q or "").lower())]
    return list(dict.fromkeys(words))[:MAX_QUERY_TERMS]


@dataclass(frozen=True)
class GigFilters:
    q: str = ""
    platform: Platform | None = None
    niche: str | None = None
    country: str | None = None
    #: Fee and product-value ranges are in this currency (gigs in other currencies are left out when it is set).
    currency: str | None = None
    fee_min: int | None = None
    fee_max: int | None = None
    product_value_min: int | None = None
    product_value_max: int | None = None
    #: Only gigs whose applications close by then (deadline filter).
    apply_before: datetime | None = None
    sort: str = "newest"
    cursor: str | None = None
    limit: int = DEFAULT_PAGE_SIZE

    @property
    def sort_key(self) -> SortKey:
        return SORTS[self.sort]

    def as_query(self, *, major_units: bool) -> dict[str, str]:
        """The filters as query parameters again (for the next-page link), without the cursor."""
        def money(v: int | None) -> str:
            if v is None:
                return ""
            if not major_units:
                return str(v)
            exp = CURRENCY_EXPONENTS.get(self.currency or "USD", 2)
            return str(v // 10**exp) if v % 10**exp == 0 else f"{v / 10**exp:.{exp}f}"

        values = {
            "q": self.q,
            "platform": self.platform.value if self.platform else "",
            "niche": self.niche or "",
            "country": self.country or "",
            "currency": self.currency or "",
            "fee_min": money(self.fee_min),
            "fee_max": money(self.fee_max),
            "product_value_min": money(self.product_value_min),
            "product_value_max": money(self.product_value_max),
            "apply_before": self.apply_before.date().isoformat() if self.apply_before else "",
            "sort": self.sort if self.sort != "newest" else "",
        }
        return {k: v for k, v in values.items() if v}


def parse_gig_filters(params: Mapping[str, Any], *, major_units: bool, page_size: int | None = None) -> GigFilters:
    """Read search parameters; pages type money in major units ("50"), the API in minor units (5000)."""
    f = FormReader(params)
    c = Checker()
    q = c.text("q", f.text("q", max_length=10_000), label=N_('Search'), max_length=200)
    platform = c.choice("platform", f.text("platform", max_length=100) or None, Platform, label=N_('Platform'),
                        required=False)
    niche_raw = f.text("niche", max_length=100).lower()
    niche = None
    if niche_raw:
        if NICHE_RE.match(niche_raw):
            niche = niche_raw
        else:
            c.error("niche", gettext('Niche must be a word like skincare or home-fitness.'))
    country = c.country("country", f.text("country", max_length=100) or None)
    currency_raw = f.text("currency", max_length=100)
    currency = c.currency("currency", currency_raw) if currency_raw else None

    def money(name: str) -> int | None:
        if major_units:
            exp = CURRENCY_EXPONENTS.get(currency or "USD", 2)
            value = f.decimal_minor(name, exponent=exp, label=name.replace("_", " ").capitalize())
        else:
            value = f.integer(name, minimum=0, label=name.replace("_", " ").capitalize())
        if value is not None and value < 0:
            return None
        return value

    fee_min, fee_max = money("fee_min"), money("fee_max")
    value_min, value_max = money("product_value_min"), money("product_value_max")
    if fee_min is not None and fee_max is not None and fee_min > fee_max:
        c.error("fee_max", gettext('The highest fee must be at least the lowest.'))
    if value_min is not None and value_max is not None and value_min > value_max:
        c.error("product_value_max", gettext('The highest product value must be at least the lowest.'))
    apply_date = f.date("apply_before", label=N_('Closing by'))
    sort = f.text("sort", max_length=100) or "newest"
    if sort not in SORTS:
        c.error("sort", gettext('Sort must be one of: %(sorts)s.', sorts=', '.join(SORTS)))
        sort = "newest"
    cursor = f.text("cursor", max_length=500) or None
    limit = page_size or f.integer("limit", minimum=1, maximum=MAX_PAGE_SIZE, label=N_('Limit')) or DEFAULT_PAGE_SIZE
    for key, message in f.errors.items():
        c.error(key, message)
    c.raise_if_invalid()
    has_money_range = any(v is not None for v in (fee_min, fee_max, value_min, value_max))
    filters = GigFilters(
        q=q,
        platform=platform,
        niche=niche,
        country=country,
        currency=currency or ("USD" if has_money_range else None),
        fee_min=fee_min,
        fee_max=fee_max,
        product_value_min=value_min,
        product_value_max=value_max,
        apply_before=datetime.combine(apply_date, time.max, tzinfo=UTC) if apply_date else None,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    if cursor:
        filters.sort_key.decode(cursor)  # refuse a damaged cursor before any query runs
    return filters


def _value(value: Any, type_: Any, inline: bool) -> sa.BindParameter[Any]:
    """A filter value. ``inline`` writes it into the SQL text: PostgreSQL plans a prepared statement once for all
    values after a few runs (a generic plan), and a fee range or a search word whose selectivity it can't see then
    gets a plan that walks the wrong index (100 ms instead of 1 ms). Inlined, each value gets its own plan; the
    values are typed and checked (numbers, dates, letters and digits), and rendered by SQLAlchemy's literal quoting."""
    return sa.bindparam(None, value, type_=type_, literal_execute=inline)


def page_limit(rows: int, dialect: str) -> sa.BindParameter[Any]:
    """LIMIT for a page statement, written into the SQL on PostgreSQL: a generic plan for an unknown LIMIT expects
    to read a tenth of the rows and prefers sorting everything that matches over walking an index in order."""
    return _value(rows, sa.Integer(), dialect == "postgresql")


def text_condition(terms: list[str], dialect: str) -> sa.ColumnElement[bool]:
    """Every word must match as a prefix: PostgreSQL's full-text index, or SQLite's token table."""
    if dialect == "postgresql":
        # Terms are letters and digits only, so joining them with "&" and ":*" is a safe tsquery.
        tsquery = " & ".join(f"{t}:*" for t in terms)
        return GIG.search_vector.bool_op("@@")(
            sa.func.to_tsquery(sa.literal_column("'english'"), _value(tsquery, sa.Text(), True))
        )
    conditions = []
    for term in terms:
        upper = term[:-1] + chr(ord(term[-1]) + 1)
        conditions.append(
            GIG.id.in_(
                sa.select(gig_search_term.c.gig_id).where(
                    gig_search_term.c.term >= term, gig_search_term.c.term < upper
                )
            )
        )
    return sa.and_(*conditions)


def countries_condition(country: str, *, inline: bool = False) -> sa.ColumnElement[bool]:
    """Open to everyone (empty list) or lists the country. The list is JSON written by our own services as
    ``["US", "DE"]``, so a quoted two-letter code can only match a whole entry."""
    as_text = sa.cast(GIG.eligible_countries, sa.Text)
    return sa.or_(as_text == "[]", as_text.like(_value(f'%"{country}"%', sa.Text(), inline)))


def _matching(filters: GigFilters, dialect: str, columns: tuple[sa.ColumnElement[Any], ...]) -> sa.Select[Any]:
    """Open gigs matching every filter (the caller adds the still-taking-applications condition and the order)."""
    inline = dialect == "postgresql"

    def value(v: Any, column: Any) -> sa.BindParameter[Any]:
        return _value(v, column.type, inline)

    query = sa.select(*columns).where(GIG.status == value(GigStatus.OPEN, GIG.status))
    terms = query_terms(filters.q)
    if terms:
        query = query.where(text_condition(terms, dialect))
    if filters.platform is not None:
        query = query.where(sa.exists().where(
            DELIVERABLE.gig_id == GIG.id, DELIVERABLE.platform == value(filters.platform, DELIVERABLE.platform)
        ))
    if filters.niche and dialect == "postgresql":
        # The niche copy on the gig row (migration 0027), written into the SQL like the other values: NICHE_RE
        # allows lower-case letters, digits and hyphens only.
        if not NICHE_RE.match(filters.niche):
            raise ValueError("not a niche")
        query = query.where(GIG.niches.bool_op("@>")(sa.literal_column(f"ARRAY['{filters.niche}']::varchar[]")))
    elif filters.niche:
        query = query.where(sa.exists().where(
            GIG_NICHE.gig_id == GIG.id, GIG_NICHE.niche == value(filters.niche, GIG_NICHE.niche)
        ))
    if filters.country:
        query = query.where(countries_condition(filters.country, inline=inline))
    if filters.currency:
        query = query.where(GIG.currency == value(filters.currency, GIG.currency))
    if filters.fee_min is not None:
        query = query.where(GIG.base_fee_amount >= value(filters.fee_min, GIG.base_fee_amount))
    if filters.fee_max is not None:
        query = query.where(GIG.base_fee_amount <= value(filters.fee_max, GIG.base_fee_amount))
    if filters.product_value_min is not None:
        query = query.where(GIG.product_retail_value >= value(filters.product_value_min, GIG.product_retail_value))
    if filters.product_value_max is not None:
        query = query.where(GIG.product_retail_value <= value(filters.product_value_max, GIG.product_retail_value))
    if filters.apply_before is not None:
        query = query.where(GIG.apply_by.is_not(None), GIG.apply_by <= value(filters.apply_before, GIG.apply_by))
    return query


def _literal(name: str, type_: Any) -> sa.BindParameter[Any]:
    """A named filter value of a prebuilt search statement, written into the SQL at execution (see ``_value``)."""
    return sa.bindparam(name, type_=type_, literal_execute=True)


@dataclass(frozen=True)
class _Shape:
    """Which filters a search uses (not their values): a prebuilt statement serves every search of one shape."""

    sort: str
    text: bool
    required_tags: int
    country: bool
    currency: bool
    fee_min: bool
    fee_max: bool
    value_min: bool
    value_max: bool
    apply_before: bool
    #: None: first page; "value": after a row with a sort value; "null": inside the deadline order's undated tail.
    cursor: str | None
    full: bool


def _shape_and_values(filters: GigFilters, now: datetime, cursor: tuple[Any, Any] | None,
                      full: bool) -> tuple[_Shape, dict[str, Any]]:
    values: dict[str, Any] = {"now": now, "limit": filters.limit + 1}
    terms = query_terms(filters.q)
    if terms:
        # Terms are letters and digits only, so joining them with "&" and ":*" is a safe tsquery.
        values["tsquery"] = " & ".join(f"{t}:*" for t in terms)
    required = []
    if filters.niche:
        required.append(f"n:{filters.niche}")
    if filters.platform is not None:
        required.append(f"p:{filters.platform.value}")
    for n, tag in enumerate(required):
        values[f"tag_{n}"] = tag
    if filters.country:
        values["country"] = f"c:{filters.country}"
    for name, value in (("currency", filters.currency), ("fee_min", filters.fee_min), ("fee_max", filters.fee_max),
                        ("value_min", filters.product_value_min), ("value_max", filters.product_value_max),
                        ("apply_before", filters.apply_before)):
        if value is not None and value != "":
            values[name] = value
    cursor_kind = None
    if cursor is not None:
        cursor_kind = "null" if cursor[0] is None else "value"
        values["after_id"] = cursor[1]
        if cursor[0] is not None:
            values["after_value"] = cursor[0]
    shape = _Shape(filters.sort, bool(terms), len(required), "country" in values, "currency" in values,
                   "fee_min" in values, "fee_max" in values, "value_min" in values, "value_max" in values,
                   "apply_before" in values, cursor_kind, full)
    return shape, values


def _matching_search(shape: _Shape, key: SortKey) -> sa.Select[Any]:
    """PostgreSQL: the ids (and sort value) of open gigs matching every filter of ``shape``, from the search table
    alone. Every filter value is a named parameter written into the SQL at execution."""
    query = sa.select(SEARCH.gig_id, key.column)
    if shape.text:
        query = query.where(SEARCH.search_vector.bool_op("@@")(
            sa.func.to_tsquery(sa.literal_column("'english'"), _literal("tsquery", sa.Text()))
        ))
    tags = postgresql.ARRAY(sa.Text())
    if shape.required_tags:
        wanted = postgresql.array([_literal(f"tag_{n}", sa.Text()) for n in range(shape.required_tags)])
        query = query.where(SEARCH.tags.bool_op("@>")(sa.cast(wanted, tags)))
    if shape.country:
        anywhere = postgresql.array([sa.literal_column("'c:*'"), _literal("country", sa.Text())])
        query = query.where(SEARCH.tags.bool_op("&&")(sa.cast(anywhere, tags)))
    if shape.currency:
        query = query.where(SEARCH.currency == _literal("currency", SEARCH.currency.type))
    if shape.fee_min:
        query = query.where(SEARCH.base_fee_amount >= _literal("fee_min", SEARCH.base_fee_amount.type))
    if shape.fee_max:
        query = query.where(SEARCH.base_fee_amount <= _literal("fee_max", SEARCH.base_fee_amount.type))
    if shape.value_min:
        query = query.where(SEARCH.product_retail_value >= _literal("value_min", SEARCH.product_retail_value.type))
    if shape.value_max:
        query = query.where(SEARCH.product_retail_value <= _literal("value_max", SEARCH.product_retail_value.type))
    if shape.apply_before:
        query = query.where(SEARCH.apply_by.is_not(None),
                            SEARCH.apply_by <= _literal("apply_before", SEARCH.apply_by.type))
    return query


def _with_gig_columns(page: sa.Select[Any], key: SortKey, columns: tuple[sa.ColumnElement[Any], ...]
                      ) -> sa.Select[Any]:
    """The gig columns of a page of search rows, in the page's order (the search table only picks the ids)."""
    picked = page.subquery("picked")
    order = SortKey(picked.c[key.column.key], picked.c.gig_id, descending=key.descending, kind=key.kind,
                    nullable=key.nullable)
    return sa.select(*columns).join_from(picked, Gig.__table__, GIG.id == picked.c.gig_id).order_by(*order.order_by())


def _after(key: SortKey) -> sa.ColumnElement[bool]:
    """``SortKey.after`` with named parameters (``after_value``, ``after_id``) for a prebuilt statement, as one row
    comparison: PostgreSQL starts the index scan at the cursor instead of filtering out every earlier row (page 11
    stepped over 260 rows, page 100 would step over 2,000). The sort columns are never NULL where it is used (the
    deadline order's dated part has ``apply_by > now``), so it keeps ``SortKey.after``'s rows."""
    v = sa.bindparam("after_value", type_=key.column.type)
    i = sa.bindparam("after_id", type_=key.id_column.type)
    row, cursor = sa.tuple_(key.column, key.id_column), sa.tuple_(v, i)
    return row < cursor if key.descending else row > cursor


@functools.lru_cache(maxsize=256)
def _search_table_statements(shape: _Shape) -> tuple[sa.Select[Any], ...]:
    """``open_gigs_queries`` on PostgreSQL, built once per shape (building a statement cost more than PostgreSQL
    took to run it): each picks its page of ids from the search table (a few MB, in shared buffers, filtered through
    one GIN index) and reads the gig rows of those ids only. Parameters: see ``_shape_and_values``."""
    key = SEARCH_SORTS[shape.sort]
    columns = ALL_COLUMNS if shape.full else CARD_COLUMNS
    base = _matching_search(shape, key)
    limit = _literal("limit", sa.Integer())
    now = sa.bindparam("now", type_=SEARCH.apply_by.type)
    if shape.sort != "deadline":
        query = base.where(sa.or_(SEARCH.apply_by.is_(None), SEARCH.apply_by > now))
        if shape.cursor is not None:
            query = query.where(_after(key))
        return (_with_gig_columns(query.order_by(*key.order_by()).limit(limit), key, columns),)
    queries = []
    if shape.cursor != "null":
        dated = base.where(SEARCH.apply_by > now)
        if shape.cursor is not None:
            dated = dated.where(_after(key))
        queries.append(_with_gig_columns(dated.order_by(SEARCH.apply_by.asc(), SEARCH.gig_id.asc()).limit(limit),
                                         key, columns))
    if not shape.apply_before:
        undated = base.where(SEARCH.apply_by.is_(None))
        if shape.cursor == "null":
            undated = undated.where(SEARCH.gig_id > sa.bindparam("after_id", type_=SEARCH.gig_id.type))
        queries.append(_with_gig_columns(undated.order_by(SEARCH.gig_id.asc()).limit(limit), key, columns))
    return tuple(queries)


def open_gigs_statements(filters: GigFilters, *, now: datetime, dialect: str, full: bool = False
                         ) -> list[tuple[sa.Select[Any], dict[str, Any]]]:
    """``open_gigs_queries`` as (statement, parameters) pairs: on PostgreSQL the statements are prebuilt per shape
    and the page's values travel as parameters, ``limit`` among them (the rows still missing from the page)."""
    if dialect != "postgresql":
        return [(q, {}) for q in open_gigs_queries(filters, now=now, dialect=dialect,
                                                   columns=ALL_COLUMNS if full else CARD_COLUMNS)]
    key = filters.sort_key
    cursor = key.decode(filters.cursor) if filters.cursor else None
    shape, values = _shape_and_values(filters, now, cursor, full)
    return [(statement, values) for statement in _search_table_statements(shape)]


def open_gigs_queries(filters: GigFilters, *, now: datetime, dialect: str,
                      columns: tuple[sa.ColumnElement[Any], ...] = CARD_COLUMNS,
                      search_table: bool = True) -> list[sa.Select[Any]]:
    """The statements that list one page of open gigs still taking applications, run in order until the page (plus
    one row, to know whether there is a next page) is full: one statement, or two for the deadline order.

    ``columns`` are the gig columns each row carries (``CARD_COLUMNS``, or ``ALL_COLUMNS`` for the API). On
    PostgreSQL the gigs are picked from the search table; ``search_table=False`` filters the gig table itself (the
    tests check both give the same pages)."""
    key = filters.sort_key
    cursor = key.decode(filters.cursor) if filters.cursor else None
    if dialect == "postgresql" and search_table:
        if columns is not CARD_COLUMNS and columns is not ALL_COLUMNS:
            raise ValueError("the search table's statements carry CARD_COLUMNS or ALL_COLUMNS")
        shape, values = _shape_and_values(filters, now, cursor, columns is ALL_COLUMNS)
        return [statement.params(values) for statement in _search_table_statements(shape)]
    base = _matching(filters, dialect, columns)
    limit = page_limit(filters.limit + 1, dialect)
    if filters.sort != "deadline":
        query = base.where(sa.or_(GIG.apply_by.is_(None), GIG.apply_by > now))
        if cursor is not None:
            query = query.where(key.after(*cursor))
        return [query.order_by(*key.order_by()).limit(limit)]
    # Soonest deadline first, then gigs without one. Two index range scans ("apply_by > now", then "apply_by IS
    # NULL") instead of one scan that would step over every gig whose deadline has already passed.
    queries = []
    if cursor is None or cursor[0] is not None:
        dated = base.where(GIG.apply_by > now)
        if cursor is not None:
            dated = dated.where(key.after(*cursor))
        queries.append(dated.order_by(GIG.apply_by.asc(), GIG.id.asc()).limit(limit))
    if filters.apply_before is None:  # "closing by" leaves out gigs that never close
        undated = base.where(GIG.apply_by.is_(None))
        if cursor is not None and cursor[0] is None:
            undated = undated.where(GIG.id > cursor[1])
        queries.append(undated.order_by(GIG.id.asc()).limit(limit))
    return queries


def next_cursor(filters: GigFilters, last: Any) -> str:
    """The cursor after ``last`` (a gig, or a row with its sort columns)."""
    key = filters.sort_key
    value = {"newest": last.published_at, "fee": last.base_fee_amount, "deadline": last.apply_by}[filters.sort]
    return key.encode(value, last.id)


