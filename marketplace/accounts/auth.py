"""Who is asking: the Actor resolved once per request (session cookie for pages, bearer token for the API)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.extensions.litestar._utils import set_aa_scope_state
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from marketplace.accounts.models import ApiToken, User, UserKind
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.security import password_fingerprint, token_digest

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from marketplace.runtime import Runtime

#: Route option for handlers that only read (the nav badge poll): on PostgreSQL their database session runs each
#: statement on its own (autocommit), so a poll is its SELECTs without a BEGIN and a COMMIT round trip around them.
#: Only for GET handlers that never write: a write there would be committed at once, statement by statement.
READ_ONLY = "read_only"

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
        _USER.c.id, _USER.c.email, _USER.c.kind, _USER.c.full_name, _USER.c.is_active, _USER.c.suspended_at,
        _USER.c.locale, _USER.c.timezone, _USER.c.password_hash, _MEMBER.c.brand_id, _MEMBER.c.role,
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


async def actor_from_session(session: AsyncSession, data: dict[str, Any], secret_key: str) -> Actor | None:
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
    loaded = await load_actor(session, user_id, authenticated_at=auth_at)
    if loaded is None:
        return None
    actor, password_hash = loaded
    # A password change anywhere signs out every session made with the old password.
    if data.get(SESSION_FINGERPRINT) != password_fingerprint(password_hash, secret_key):
        return None
    return actor


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
    autocommit = _AUTOCOMMIT.get(engine)
    if autocommit is None:
        autocommit = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    session: AsyncSession = scope["app"].state[config.session_maker_app_state_key](bind=autocommit)
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
                session = _read_only_session(runtime, scope) or runtime.alchemy.provide_session(app.state, scope)
                actor = await actor_from_session(session, data, runtime.settings.app.secret_key)
                if actor is None:
                    data.pop(SESSION_USER, None)
        scope["user"] = actor
        scope["auth"] = None
        await next_app(scope, receive, send)
