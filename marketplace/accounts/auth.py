"""Who is asking: the Actor resolved once per request (session cookie for pages, bearer token for the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import ApiToken, User, UserKind
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.security import password_fingerprint, token_digest

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from marketplace.runtime import Runtime

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


_actor_query = (
    sa.select(User, BrandMember.brand_id, BrandMember.role, Creator.id)
    .outerjoin(BrandMember, BrandMember.user_id == User.id)
    .outerjoin(Creator, Creator.user_id == User.id)
)


async def load_actor(
    session: AsyncSession, user_id: UUID, *, authenticated_at: datetime | None = None, via_token: bool = False
) -> tuple[Actor, User] | None:
    row = (await session.execute(_actor_query.where(User.id == user_id))).first()
    if row is None:
        return None
    user, brand_id, role, creator_id = row
    if not user.is_active:
        return None
    actor = Actor(
        user_id=user.id,
        email=user.email,
        kind=user.kind,
        name=user.full_name or user.email,
        brand_id=brand_id,
        brand_role=role,
        creator_id=creator_id,
        suspended=user.is_suspended,
        authenticated_at=authenticated_at,
        via_token=via_token,
        locale=user.locale,
        timezone=user.timezone or "UTC",
    )
    return actor, user


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
    actor, user = loaded
    # A password change anywhere signs out every session made with the old password.
    if data.get(SESSION_FINGERPRINT) != password_fingerprint(user.password_hash, secret_key):
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
                session = runtime.alchemy.provide_session(app.state, scope)
                actor = await actor_from_session(session, data, runtime.settings.app.secret_key)
                if actor is None:
                    data.pop(SESSION_USER, None)
        scope["user"] = actor
        scope["auth"] = None
        await next_app(scope, receive, send)
