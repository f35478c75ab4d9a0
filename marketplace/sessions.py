"""Server-side sessions (Redis when configured, files under var/ otherwise) that rotate their id on sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.utils.dataclass import extract_dataclass_items

from marketplace.settings import Settings

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.types import Message, ScopeSession

ROTATE_SESSION_KEY = "_rotate"
_LOADED_KEY = "postpact.session_loaded"
SESSION_COOKIE = "postpact_session"
SESSION_STORE = "sessions"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps a session id for as long as the cookie lives; on sign-in we want a new one.

    It also writes the session back after every request, even one that only read it. A page's badge poll that
    started before a form post would then overwrite what the post stored (a flash message, say) with the stale copy
    it loaded, so a session the request didn't change is not written again (reading it already renewed its expiry).
    """

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope[_LOADED_KEY] = self.serialize_data(data, connection.scope) if data else None  # type: ignore[literal-required]
        return data

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        loaded = connection.scope.get(_LOADED_KEY)
        if (
            isinstance(scope_session, dict)
            and loaded is not None
            and ROTATE_SESSION_KEY not in scope_session
            and self.serialize_data(scope_session, connection.scope) == loaded
        ):
            self._set_cookie_only(message, connection)
            return
        if isinstance(scope_session, dict) and scope_session.pop(ROTATE_SESSION_KEY, False):
            old_id = connection.cookies.get(self.config.key)
            if old_id and old_id != "null":
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            new_id = self.generate_session_id()
            # get_session_id() prefers the cookie; hide it so the fresh id is used for this response.
            cookies = {k: v for k, v in connection.cookies.items() if k != self.config.key}
            connection._cookies = cookies
            connection._connection_state.cookies = cookies
            connection._connection_state.session_id = new_id
        await super().store_in_message(scope_session, message, connection)

    def _set_cookie_only(self, message: Message, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        cookie_params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        MutableScopeHeaders.from_message(message).add(
            "Set-Cookie",
            Cookie(value=self.get_session_id(connection), key=self.config.key, **cookie_params).to_header(header=""),
        )


@dataclass
class PostPactSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


def session_config(settings: Settings) -> PostPactSessionConfig:
    return PostPactSessionConfig(
        key=SESSION_COOKIE,
        store=SESSION_STORE,
        max_age=14 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.app.public_url.startswith("https://"),
        renew_on_access=True,
        # The API authenticates with bearer tokens, webhooks with signatures; health checks must work even
        # when the session store (Redis) is down.
        exclude=["^/api/", "^/webhooks/", "^/healthz$", "^/readyz$", "^/static/", "^/schema"],
    )


def session_store(settings: Settings) -> Store:
    if settings.redis.url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis.url, namespace="postpact:sessions")
    if settings.app.is_test:
        return MemoryStore()
    return FileStore(settings.storage.session_dir, create_directories=True)
