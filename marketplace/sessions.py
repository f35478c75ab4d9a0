"""Server-side sessions (Redis when configured, files under var/ otherwise) that rotate their id on sign-in, and the
actor generations the session read brings along (what lets ``accounts.auth`` reuse a loaded actor safely)."""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.utils.dataclass import extract_dataclass_items

from marketplace.settings import Settings

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.types import Message, ScopeSession

log = logging.getLogger("postpact")

ROTATE_SESSION_KEY = "_rotate"
_LOADED_KEY = "postpact.session_loaded"
SESSION_COOKIE = "postpact_session"
SESSION_STORE = "sessions"
#: The session's user id (``accounts.auth.SESSION_USER``; not imported: auth imports this module).
_SESSION_USER = "uid"

# --- actor generations ------------------------------------------------------------------------------------------
# Every committed write to a user, their brand membership or creator profile bumps that user's generation (or, for
# a write whose users aren't known, everyone's); a cached actor is used only while both generations are the ones it
# was loaded under. The generations come with the session read (same Redis round trip, one Lua script), so a signed-in
# request that finds its actor cached costs no database statement for it, and a suspension or role change is seen by
# the user's very next request in every process. Kept in Redis when the sessions are; in this process otherwise
# (the in-memory store of the tests: one process by construction). With the file store (development without Redis,
# possibly several processes) there are no generations and the actor is loaded every time.
SCOPE_ACTOR_GENERATION = "postpact.actor_generation"
_EVERYONE = "*"
_GENERATION_PREFIX = "actor-gen:"
_local_generations: dict[str, int] = {}
#: The Redis session stores of the apps running in this process (between their lifespan's start and end).
_redis_stores: list[RedisStore] = []
#: GET + renew (as Litestar's own script) and, when the session names a user, that user's and everyone's generation.
_SESSION_AND_GENERATIONS = b"""
local data = redis.call('GET', KEYS[1])
if not data then return nil end
if redis.call('TTL', KEYS[1]) > 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
local ok, decoded = pcall(cjson.decode, data)
if ok and type(decoded) == 'table' and type(decoded[ARGV[3]]) == 'string' then
  local mine = redis.call('GET', ARGV[2] .. decoded[ARGV[3]]) or '0'
  local everyone = redis.call('GET', ARGV[2] .. '*') or '0'
  return {data, mine .. ':' .. everyone}
end
return {data}
"""


def _generation_key(store: RedisStore, who: str) -> str:
    return store._make_key(_GENERATION_PREFIX + who)


def bump_actor_generations(user_ids: Iterable[object], *, everyone: bool = False) -> Coroutine[Any, Any, None] | None:
    """After a commit that changed these users (or, ``everyone``, users not known by id): their cached actors are
    stale. Increments the generations in this process at once and returns the coroutine that increments them in every
    Redis session store this process serves (None when there is none)."""
    who = [*(str(u) for u in user_ids), *([_EVERYONE] if everyone else [])]
    for key in who:
        _local_generations[key] = _local_generations.get(key, 0) + 1
    stores = list(_redis_stores)
    return _bump_in_redis(stores, who) if who and stores else None


async def _bump_in_redis(stores: list[RedisStore], who: list[str]) -> None:
    for store in stores:
        try:
            async with store._redis.pipeline(transaction=False) as pipe:
                for key in who:
                    pipe.incr(_generation_key(store, key))
                await pipe.execute()
        except Exception:  # this store is unreachable (its sessions too); the others still get the bump
            log.warning("actor generations not bumped in a Redis session store", exc_info=True)


class SessionRedisStore(RedisStore):
    """Litestar's Redis store, known to the generation bumps while its app runs (``async with`` in the lifespan)."""

    async def __aenter__(self) -> None:
        if self not in _redis_stores:
            _redis_stores.append(self)
        await super().__aenter__()

    async def __aexit__(self, *args: Any) -> None:
        if self in _redis_stores:
            _redis_stores.remove(self)
        await super().__aexit__(*args)


def _local_generation(data: dict[str, Any]) -> str | None:
    uid = data.get(_SESSION_USER)
    if not isinstance(uid, str):
        return None
    return f"{_local_generations.get(uid, 0)}:{_local_generations.get(_EVERYONE, 0)}"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps a session id for as long as the cookie lives; on sign-in we want a new one.

    It also writes the session back after every request, even one that only read it. A page's badge poll that
    started before a form post would then overwrite what the post stored (a flash message, say) with the stale copy
    it loaded, so a session the request didn't change is not written again (reading it already renewed its expiry).
    """

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data, generation = await self._load(connection)
        scope = connection.scope
        scope[_LOADED_KEY] = self.serialize_data(data, scope) if data else None  # type: ignore[literal-required]
        scope[SCOPE_ACTOR_GENERATION] = generation  # type: ignore[literal-required]
        return data

    async def _load(self, connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[dict[str, Any], str | None]:
        """The session and its user's actor generation (None: no user, or a store that keeps none)."""
        session_id = connection.cookies.get(self.config.key)
        if not session_id:
            return {}, None
        store = self.config.get_store_from_app(connection.scope["app"])
        max_age = int(self.config.max_age) if self.config.max_age is not None else None
        raw, generation = await read_session(store, session_id, max_age if self.config.renew_on_access else None)
        return (self.deserialize_data(raw), generation) if raw is not None else ({}, None)

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
        """The renewed cookie for an unchanged session: its attributes are the config's, built into a header once
        (the id is hex, never quoted)."""
        template = self.__dict__.get("_cookie_template")
        if template is None:
            params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
            header = Cookie(value="0", key=self.config.key, **params).to_header(header="")
            prefix = f"{self.config.key}="
            assert header.startswith(prefix + "0;"), header
            template = self.__dict__["_cookie_template"] = (prefix, header[len(prefix) + 1 :])
        session_id = self.get_session_id(connection)
        MutableScopeHeaders.from_message(message).add("Set-Cookie", template[0] + session_id + template[1])


_scripts: dict[int, tuple[RedisStore, Any]] = {}


async def read_session(store: Store, session_id: str, renew_for: int | None) -> tuple[bytes | None, str | None]:
    """The stored session (renewing its expiry) and its user's actor generation, in one Redis round trip (None: no
    such session, no user in it, or a store that keeps no generations)."""
    if isinstance(store, RedisStore):
        script = _scripts.get(id(store))
        if script is None or script[0] is not store:
            script = _scripts[id(store)] = (store, store._redis.register_script(_SESSION_AND_GENERATIONS))
        reply = await script[1](
            keys=[store._make_key(session_id)],
            args=[renew_for or 0, store._make_key(_GENERATION_PREFIX), _SESSION_USER],
        )
        if not reply:
            return None, None
        return reply[0], reply[1].decode() if len(reply) > 1 else None
    raw = await store.get(session_id, renew_for=renew_for)
    inner = getattr(store, "inner", store)  # a test's wrapper around the real store
    if raw is None or type(inner) is not MemoryStore:
        return raw, None
    return raw, _local_generation(msgspec.json.decode(raw))


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
        return SessionRedisStore.with_client(url=settings.redis.url, namespace="postpact:sessions")
    if settings.app.is_test:
        return MemoryStore()
    return FileStore(settings.storage.session_dir, create_directories=True)
