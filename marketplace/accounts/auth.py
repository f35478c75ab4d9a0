"""Who is asking: the Actor resolved once per request (session cookie for pages, bearer token for the API)."""

from __future__ import annotations

import functools
import logging
import re
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.extensions.litestar._utils import set_aa_scope_state
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from marketplace.accounts.models import ApiToken, User, UserKind
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.security import password_fingerprint, token_digest
from marketplace.sessions import SCOPE_ACTOR_GENERATION, bump_actor_generations

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from marketplace.runtime import Runtime

log = logging.getLogger("postpact")
#: Route option for handlers that only read (the nav badge poll): on PostgreSQL their database session runs each
#: statement on its own (autocommit), so a poll is its SELECTs without a BEGIN and a COMMIT round trip around them.
#: Only for GET handlers that never write: a write there would be committed at once, statement by statement.
READ_ONLY = "read_only"
#: ``session.info`` flag of such a route's autocommit session: it has nothing to commit, so it is only closed
#: (``app._commit_or_roll_back``).
READ_ONLY_SESSION = "postpact.read_only"

SESSION_USER = "uid"
SESSION_FINGERPRINT = "pfp"
SESSION_AUTH_AT = "auth_at"
#: How often a used API token's last_used_at is refreshed (every request would be a write per call).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the rest of the code needs them; every query is scoped by these ids."""

    user_id: UUID
    email: str
    kind: UserKind
    name: str
    brand_id: UUID | None = None
    brand_role: BrandRole | None = None
    creator_id: UUID | None = None
    suspended: bool = False
    #: When the password was last entered (None for API tokens): admin money decisions need it recent.
    authenticated_at: datetime | None = None
    via_token: bool = False
    #: The user's language (None: the browser's) and time zone, for everything shown to them.
    locale: str | None = None
    timezone: str = "UTC"

    @property
    def is_brand(self) -> bool:
        return self.kind is UserKind.BRAND and self.brand_id is not None

    @property
    def is_creator(self) -> bool:
        return self.kind is UserKind.CREATOR and self.creator_id is not None

    @property
    def is_admin(self) -> bool:
        return self.kind is UserKind.ADMIN

    def auth_is_recent(self, now: datetime, within: timedelta) -> bool:
        return self.authenticated_at is not None and now - self.authenticated_at <= within


_USER, _MEMBER, _CREATOR = User.__table__, BrandMember.__table__, Creator.__table__
#: Built once, at import: the columns a request needs about its user, their brand membership and creator profile,
#: in one statement. Core columns, not ``User`` entities: this runs on every signed-in request (each badge poll),
#: where building the ORM statement and loading the entity cost more than PostgreSQL took to answer.
_ACTOR = (
    sa.select(
        _USER.c.id,
        _USER.c.email,
        _USER.c.kind,
        _USER.c.full_name,
        _USER.c.is_active,
        _USER.c.suspended_at,
        _USER.c.locale,
        _USER.c.timezone,
        _USER.c.password_hash,
        _MEMBER.c.brand_id,
        _MEMBER.c.role,
        _CREATOR.c.id.label("creator_id"),
    )
    .select_from(
        _USER.outerjoin(_MEMBER, _MEMBER.c.user_id == _USER.c.id).outerjoin(_CREATOR, _CREATOR.c.user_id == _USER.c.id)
    )
    .where(_USER.c.id == sa.bindparam("user_id", type_=_USER.c.id.type))
)


async def load_actor(
    session: AsyncSession, user_id: UUID, *, authenticated_at: datetime | None = None, via_token: bool = False
) -> tuple[Actor, str] | None:
    """The active user as an Actor, with their password hash (a session made with an older password is refused).
    One statement, on the session's connection (in the request's transaction)."""
    connection = await session.connection()
    row = (await connection.execute(_ACTOR, {"user_id": user_id})).first()
    if row is None or not row.is_active:
        return None
    actor = Actor(
        user_id=row.id,
        email=row.email,
        kind=row.kind,
        name=row.full_name or row.email,
        brand_id=row.brand_id,
        brand_role=row.role,
        creator_id=row.creator_id,
        suspended=row.suspended_at is not None,
        authenticated_at=authenticated_at,
        via_token=via_token,
        locale=row.locale,
        timezone=row.timezone or "UTC",
    )
    return actor, row.password_hash


# --- the actor cache ---------------------------------------------------------------------------------------------
#: user id -> (the generation it was loaded under, when, the actor without authenticated_at, the session
#: fingerprint of their password for ``_CACHE_SECRET``). Reused only under the same generation (see
#: ``marketplace.sessions``: any committed change to the user, their membership or creator profile bumps it) and
#: for at most ``ACTOR_CACHE_SECONDS`` (a writer outside the web processes, which cannot bump, is seen by then).
ACTOR_CACHE_SECONDS = 30.0
ACTOR_CACHE_SIZE = 10_000
_actor_cache: dict[UUID, tuple[str, float, Actor, str]] = {}
_CACHE_SECRET: dict[str, str] = {}


def _cached_actor(user_id: UUID, generation: str | None, secret_key: str) -> tuple[Actor, str] | None:
    if generation is None:
        return None
    entry = _actor_cache.get(user_id)
    if entry is None or entry[0] != generation or time.monotonic() - entry[1] > ACTOR_CACHE_SECONDS:
        return None
    if _CACHE_SECRET.get("key") != secret_key:
        return None
    return entry[2], entry[3]


def _remember_actor(user_id: UUID, generation: str | None, actor: Actor, fingerprint: str, secret_key: str) -> None:
    if generation is None:
        return
    if _CACHE_SECRET.get("key") != secret_key:
        _actor_cache.clear()
        _CACHE_SECRET["key"] = secret_key
    if len(_actor_cache) >= ACTOR_CACHE_SIZE:
        _actor_cache.clear()
    _actor_cache[user_id] = (generation, time.monotonic(), actor, fingerprint)


_ACTOR_TABLES = frozenset({"user_account", "brand_member", "creator"})
#: A textual statement that writes one of them: the verb and the table as whole words ("creator_id" or "updated_at"
#: in a statement about another table is not one of them).
_WRITES_ACTOR_TABLE = (re.compile(r"\b(?:update|delete|insert)\b", re.IGNORECASE),
                       re.compile(r"\b(?:" + "|".join(sorted(_ACTOR_TABLES)) + r")\b", re.IGNORECASE))
_CHANGED_USERS = "postpact.actor_changed_users"
_CHANGED_EVERYONE = "postpact.actor_changed_everyone"


def _bump(users: set[Any] | None, everyone: bool) -> None:
    for user_id in users or ():
        _actor_cache.pop(user_id, None)
    if everyone:
        _actor_cache.clear()
    remote = bump_actor_generations(users or (), everyone=everyone)
    if remote is None:
        return
    try:
        await_only(remote)
    except Exception:  # a sync session (no event loop to reach Redis from), or Redis down: the cache's age bounds it
        remote.close()
        log.warning("actor generations not bumped", exc_info=True)


@event.listens_for(Session, "after_flush")
def _note_changed_users(session: Session, _context: Any) -> None:
    """Users whose actor a flush changed (the user rows, memberships, creator profiles): bumped now (the flush is
    the commit on an autocommit connection) and again after the commit (a request that read the old rows between
    the two must not keep them)."""
    changed: set[Any] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User):
            changed.add(obj.id)
        elif isinstance(obj, BrandMember | Creator):
            changed.add(obj.user_id)
    if changed:
        session.info.setdefault(_CHANGED_USERS, set()).update(changed)
        _bump(changed, False)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: Any) -> Any:
    """An UPDATE/DELETE/INSERT statement on those tables (users unknown) or a textual statement writing them:
    everyone's generation, after the statement and again after the commit."""
    statement = state.statement
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(statement, "table", None)
        writes = getattr(table, "name", None) in _ACTOR_TABLES
    elif isinstance(statement, sa.TextClause):
        writes = all(pattern.search(statement.text) for pattern in _WRITES_ACTOR_TABLE)
    else:
        return None
    if not writes:
        return None
    state.session.info[_CHANGED_EVERYONE] = True
    result = state.invoke_statement()
    _bump(None, True)
    return result


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    users = session.info.pop(_CHANGED_USERS, None)
    everyone = session.info.pop(_CHANGED_EVERYONE, False)
    if users or everyone:
        _bump(users, everyone)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED_USERS, None)
    session.info.pop(_CHANGED_EVERYONE, None)


async def actor_from_session(
    session: AsyncSession | None,
    data: dict[str, Any],
    secret_key: str,
    generation: str | None = None,
    open_session: Any = None,
) -> Actor | None:
    """The session's actor: from the cache when its generation is current (no statement), else loaded (one).
    ``session`` may be None with ``open_session`` a callable giving it, opened only when loading."""
    raw_id = data.get(SESSION_USER)
    if not raw_id:
        return None
    try:
        user_id = UUID(str(raw_id))
    except ValueError:
        return None
    auth_at = None
    if data.get(SESSION_AUTH_AT):
        try:
            auth_at = as_utc(datetime.fromisoformat(str(data[SESSION_AUTH_AT])))
        except ValueError:
            auth_at = None
    cached = _cached_actor(user_id, generation, secret_key)
    if cached is not None:
        actor, fingerprint = cached
    else:
        if session is None:
            session = open_session()
        loaded = await load_actor(session, user_id)
        if loaded is None:
            return None
        actor, password_hash = loaded
        fingerprint = password_fingerprint(password_hash, secret_key)
        _remember_actor(user_id, generation, actor, fingerprint, secret_key)
    # A password change anywhere signs out every session made with the old password.
    if data.get(SESSION_FINGERPRINT) != fingerprint:
        return None
    return replace(actor, authenticated_at=auth_at) if auth_at is not None else actor


async def actor_from_token(session: AsyncSession, raw_token: str, now: datetime) -> Actor | None:
    token = (
        await session.execute(
            sa.select(ApiToken).where(ApiToken.token_digest == token_digest(raw_token), ApiToken.revoked_at.is_(None))
        )
    ).scalar_one_or_none()
    if token is None:
        return None
    loaded = await load_actor(session, token.user_id, via_token=True)
    if loaded is None:
        return None
    if token.last_used_at is None or now - as_utc(token.last_used_at) > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now
    return loaded[0]


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()
#: A statement that writes (or locks rows to write them), as its first word or after a WITH's queries.
_WRITING_STATEMENT = re.compile(r"^\s*(?:insert|update|delete|merge|truncate|create|drop|alter|lock)\b"
                                r"|\b(?:insert\s+into|update\s+\w+\s+set|delete\s+from|for\s+(?:no\s+key\s+)?update)\b",
                                re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def _writes(statement: str) -> bool:
    """Kept per statement text: a route's statements are a few texts built once, searched once."""
    return _WRITING_STATEMENT.search(statement) is not None


class ReadOnlyRouteWrote(RuntimeError):
    """A ``READ_ONLY`` route sent a statement that writes: in autocommit it would be committed on its own, outside
    the request's one transaction. A programming error (the route must not be marked read-only)."""


def _refuse_writes(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
    """Before every statement of a read-only route's autocommit session: nothing that writes gets to the database."""
    if (context is not None and (context.isinsert or context.isupdate or context.isdelete)) or _writes(statement):
        raise ReadOnlyRouteWrote(f"a read-only route tried to write: {statement[:80]!r}")


def read_only_engine(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` in autocommit (same pool), refusing any statement that writes (``ReadOnlyRouteWrote``)."""
    autocommit = _AUTOCOMMIT.get(engine)
    if autocommit is None:
        autocommit = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Only this engine's statements (the events of an engine made by execution_options are its own).
        event.listen(autocommit.sync_engine, "before_cursor_execute", _refuse_writes)
    return autocommit


def _read_only_session(runtime: Runtime, scope: Scope) -> AsyncSession | None:
    """The request's database session in autocommit, for a GET route marked ``READ_ONLY`` on PostgreSQL (SQLite
    starts its transactions itself, see ``db._install_sqlite_behaviour``); else None (the usual session)."""
    handler = scope.get("route_handler")
    if handler is None or not handler.opt.get(READ_ONLY) or scope["method"] not in ("GET", "HEAD"):
        return None
    config = runtime.alchemy
    engine = config.get_engine()
    if engine.dialect.name != "postgresql":
        return None
    session: AsyncSession = scope["app"].state[config.session_maker_app_state_key](bind=read_only_engine(engine))
    session.info[READ_ONLY_SESSION] = True
    set_aa_scope_state(scope, config.session_scope_key, session)  # what the handler's ``db_session`` will be
    return session


class ActorMiddleware(ASGIMiddleware):
    """Puts ``scope["user"]`` (an Actor or None). API paths look only at bearer tokens and pages only at the
    session cookie, so a cookie can never authorise an API call that skips CSRF checks."""

    scopes = (ScopeType.HTTP,)
    #: Static files need no user (and no database session).
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"].startswith("/static/"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        app = scope["app"]
        runtime: Runtime = app.state.runtime
        actor: Actor | None = None
        path: str = scope["path"]
        if path.startswith("/api/"):
            token = bearer_token(scope)
            if token:
                session = runtime.alchemy.provide_session(app.state, scope)
                actor = await actor_from_token(session, token, runtime.clock.now())
        else:
            data = scope.get("session")
            if isinstance(data, dict) and data.get(SESSION_USER):
                # A READ_ONLY route's autocommit session is put in place whether or not the actor needs loading.
                session = _read_only_session(runtime, scope)
                actor = await actor_from_session(
                    session,
                    data,
                    runtime.settings.app.secret_key,
                    scope.get(SCOPE_ACTOR_GENERATION),
                    lambda: runtime.alchemy.provide_session(app.state, scope),
                )
                if actor is None:
                    data.pop(SESSION_USER, None)
        scope["user"] = actor
        scope["auth"] = None
        await next_app(scope, receive, send)
