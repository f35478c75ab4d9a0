"""create_app(settings) -> Litestar: the whole web application, with an explicit route list."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyInitPlugin, SQLAlchemyPlugin, SQLAlchemySerializationPlugin
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from advanced_alchemy.extensions.litestar.plugins.init.config.common import SESSION_TERMINUS_ASGI_EVENTS
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from marketplace.accounts.auth import READ_ONLY_SESSION, ActorMiddleware
from marketplace.accounts.controllers import AccountApi, AccountPages
from marketplace.accounts.locale import LocaleMiddleware, LocalePages
from marketplace.admin.controllers import ROUTES as ADMIN_ROUTES
from marketplace.applications.controllers import ROUTES as APPLICATION_ROUTES
from marketplace.brands.api import ROUTES as BRAND_API_ROUTES
from marketplace.brands.controllers import ROUTES as BRAND_ROUTES
from marketplace.bulk.controllers import ROUTES as BULK_ROUTES
from marketplace.campaigns.controllers import ROUTES as CAMPAIGN_ROUTES
from marketplace.collaborations.controllers import ROUTES as COLLABORATION_ROUTES
from marketplace.creators.api import ROUTES as CREATOR_API_ROUTES
from marketplace.creators.controllers import ROUTES as CREATOR_ROUTES
from marketplace.csrf import SessionCsrfMiddleware
from marketplace.deadlines.controllers import ROUTES as DEADLINE_ROUTES
from marketplace.disputes.controllers import ROUTES as DISPUTE_ROUTES
from marketplace.explore import ExplorePages
from marketplace.gigs.controllers import ROUTES as GIG_ROUTES
from marketplace.headers import ProxyHeadersMiddleware, parse_trusted_proxies, security_headers
from marketplace.input_guard import InputGuardMiddleware, refuse_unstorable_text
from marketplace.jobs import InProcessQueue, InProcessScheduler, load_jobs, periodic_jobs
from marketplace.media.controllers import ROUTES as MEDIA_ROUTES
from marketplace.messaging.controllers import ROUTES as MESSAGING_ROUTES
from marketplace.notifications.controllers import ROUTES as NOTIFICATION_ROUTES
from marketplace.openapi import declare_problem_responses, openapi_config
from marketplace.payments.api import ROUTES as PAYMENT_API_ROUTES
from marketplace.payments.controllers import ROUTES as PAYMENT_ROUTES
from marketplace.reputation.api import ROUTES as RELIABILITY_API_ROUTES
from marketplace.reputation.controllers import ROUTES as RELIABILITY_ROUTES
from marketplace.roster.controllers import ROUTES as ROSTER_ROUTES
from marketplace.runtime import Runtime, build_runtime
from marketplace.sales.controllers import ROUTES as SALES_ROUTES
from marketplace.sessions import SESSION_STORE, session_config, session_store
from marketplace.settings import PROJECT_ROOT, Settings, get_settings
from marketplace.site import DevOutbox, LivenessMiddleware, SitePages
from marketplace.social.controllers import ROUTES as SOCIAL_ROUTES
from marketplace.stores.controllers import ROUTES as STORE_ROUTES
from marketplace.templating import jinja_engine_callback
from marketplace.verification.controllers import ROUTES as VERIFICATION_ROUTES
from marketplace.web import handle_exception
from marketplace.webhooks.controllers import ROUTES as WEBHOOK_ROUTES

log = logging.getLogger("postpact")

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


def route_handlers(settings: Settings) -> list[Any]:
    handlers: list[Any] = [
        SitePages,
        ExplorePages,
        AccountPages,
        AccountApi,
        LocalePages,
        *MEDIA_ROUTES,
        *BRAND_ROUTES,
        *CREATOR_ROUTES,
        *GIG_ROUTES,
        *APPLICATION_ROUTES,
        *COLLABORATION_ROUTES,
        *DEADLINE_ROUTES,
        *VERIFICATION_ROUTES,
        *MESSAGING_ROUTES,
        *NOTIFICATION_ROUTES,
        *PAYMENT_ROUTES,
        *RELIABILITY_ROUTES,
        *ROSTER_ROUTES,
        *ADMIN_ROUTES,
        *DISPUTE_ROUTES,
        *STORE_ROUTES,
        *SOCIAL_ROUTES,
        *SALES_ROUTES,
        *BULK_ROUTES,
        *CAMPAIGN_ROUTES,
        *WEBHOOK_ROUTES,
        *BRAND_API_ROUTES,
        *CREATOR_API_ROUTES,
        *PAYMENT_API_ROUTES,
        *RELIABILITY_API_ROUTES,
        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
    ]
    if not settings.app.is_production:
        handlers.append(DevOutbox)
    return handlers


@dataclass(frozen=True)
class AppShape:
    """What create_app builds into the app itself from the settings: the routes, the middleware, the headers, the body
    limit. Everything else (the database, the clock, the queue, the session store...) belongs to the runtime and is
    read from ``app.state.runtime`` when used, so apps of one shape differ only in their runtime: the tests build one
    app per shape and bind each test's runtime to it (``bind_runtime``) instead of building ~1,000 apps."""

    production: bool
    https: bool
    trusted_proxies: tuple[str, ...]
    max_body_bytes: int
    debug: bool
    run_scheduler: bool
    #: The Jinja callback reads the environment variable, not the settings (see ``jinja_engine_callback``).
    precompiled_templates: bool

    @classmethod
    def of(cls, settings: Settings, run_scheduler: bool | None = None) -> AppShape:
        return cls(
            production=settings.app.is_production,
            https=settings.app.public_url.startswith("https://"),
            trusted_proxies=tuple(settings.app.trusted_proxies),
            max_body_bytes=settings.storage.max_upload_bytes + 1024 * 1024,
            debug=settings.app.debug,
            run_scheduler=not settings.app.is_test if run_scheduler is None else run_scheduler,
            precompiled_templates=os.environ.get("POSTPACT_ENV", "development") == "production",
        )


def _runtime(app: Litestar) -> Runtime:
    return app.state.runtime  # type: ignore[no-any-return]


def freeze_startup_heap() -> None:
    """Move what start-up built (the app, its templates, SQLAlchemy's and Babel's tables: ~400k objects) out of the
    cyclic collector's reach: they live as long as the process, and each collection of the older generations would
    otherwise walk them again (half the collector's time per request on /gigs: 0.28 → 0.14 ms at 300 requests)."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    """The runtime's in-process scheduler and queue, and its session store (Redis closes its client after)."""
    runtime = _runtime(app)
    scheduler = None
    if app.state.shape.run_scheduler and isinstance(runtime.queue, InProcessQueue):
        scheduler = InProcessScheduler(runtime.queue, periodic_jobs())
        scheduler.start()
    try:
        async with app.stores.get(SESSION_STORE):
            if app.state.shape.production:
                freeze_startup_heap()
            yield
    finally:
        if scheduler is not None:
            await scheduler.stop()
        if isinstance(runtime.queue, InProcessQueue):
            await runtime.queue.drain()


@asynccontextmanager
async def _database_lifespan(app: Litestar) -> AsyncIterator[None]:
    """The runtime's engine and session maker in ``app.state`` while the app runs (disposed after), as the
    advanced-alchemy plugin does for the config it was given."""
    config = _runtime(app).alchemy
    try:
        async with config.lifespan(app):
            yield
    finally:
        for key in (config.engine_app_state_key, config.session_maker_app_state_key):
            app.state._state.pop(key, None)


def _provide_engine(state: State) -> AsyncEngine:
    return state["runtime"].alchemy.provide_engine(state)  # type: ignore[no-any-return]


def _provide_session(state: State, scope: Scope) -> AsyncSession:
    return state["runtime"].alchemy.provide_session(state, scope)  # type: ignore[no-any-return]


async def _commit_or_roll_back(message: Message, scope: Scope) -> None:
    """advanced-alchemy's commit-or-rollback before the response, except for a read-only route's autocommit session
    (``auth.READ_ONLY``): each of its statements committed on its own, so it is only closed (a commit there would be
    a sixth of a badge poll's CPU for nothing)."""
    alchemy = scope["app"].state.runtime.alchemy
    session = get_aa_scope_state(scope, alchemy.session_scope_key)
    if session is not None and session.info.get(READ_ONLY_SESSION):
        if message["type"] in SESSION_TERMINUS_ASGI_EVENTS:
            delete_aa_scope_state(scope, alchemy.session_scope_key)
            await session.close()
        return
    await alchemy.before_send_handler(message, scope)


class _RuntimeAlchemyInit(SQLAlchemyInitPlugin):
    """advanced-alchemy's plugin, with the database of the app's current runtime rather than of the config it was
    built with: its session and engine dependencies, its lifespan and its commit-or-rollback hook go through
    ``app.state.runtime.alchemy`` (the ActorMiddleware already opens sessions that way)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        (config,) = self.config
        app_config = super().on_app_init(app_config)
        app_config.lifespan[app_config.lifespan.index(config.lifespan)] = _database_lifespan
        app_config.before_send[app_config.before_send.index(config.before_send_handler)] = _commit_or_roll_back
        app_config.dependencies[config.engine_dependency_key] = Provide(_provide_engine, sync_to_thread=False)
        app_config.dependencies[config.session_dependency_key] = Provide(_provide_session, sync_to_thread=False)
        return app_config


class RuntimeAlchemyPlugin(SQLAlchemyPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.plugins.extend([_RuntimeAlchemyInit(config=self.config), SQLAlchemySerializationPlugin()])
        return app_config


def bind_runtime(app: Litestar, runtime: Runtime) -> Litestar:
    """Make ``runtime`` the one ``app`` serves with (before its lifespan starts): create_app does it once; the tests
    bind each test's runtime to an app of the same shape they keep."""
    shape: AppShape = app.state.shape
    if AppShape.of(runtime.settings, shape.run_scheduler) != shape:
        raise ValueError(f"this app was built for another shape of settings: {shape}")
    config = runtime.alchemy
    if (config.session_dependency_key, config.engine_dependency_key) != app.state.dependency_keys:
        raise ValueError("the runtime's database config names its dependencies differently")
    refuse_unstorable_text(config.get_engine())
    app.stores.register(SESSION_STORE, session_store(runtime.settings), allow_override=True)
    app.state.runtime = runtime
    return app


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_scheduler: bool | None = None
) -> Litestar:
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or build_runtime(settings)
    load_jobs()
    shape = AppShape.of(settings, run_scheduler)
    sessions = session_config(settings)
    proxies = parse_trusted_proxies(",".join(shape.trusted_proxies))
    app = Litestar(
        route_handlers=route_handlers(settings),
        plugins=[RuntimeAlchemyPlugin(config=runtime.alchemy), HTMXPlugin()],
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=jinja_engine_callback
        ),
        # Outermost first: the real client and scheme, then input no layer should see, then who is asking; the
        # CSRF check (bound to the session) runs inside the session it reads.
        middleware=[
            LivenessMiddleware(),  # /healthz answered before any of the layers below
            ProxyHeadersMiddleware(proxies),
            InputGuardMiddleware(),
            sessions.middleware,
            ActorMiddleware(),
            LocaleMiddleware(),
            SessionCsrfMiddleware(),
        ],
        before_send=[security_headers(proxies, always_https=shape.https)],
        exception_handlers={HTTPException: handle_exception, Exception: handle_exception},
        openapi_config=openapi_config(),
        state=State(
            {
                "shape": shape,
                "dependency_keys": (runtime.alchemy.session_dependency_key, runtime.alchemy.engine_dependency_key),
            }
        ),
        lifespan=[_lifespan],
        request_max_body_size=shape.max_body_bytes,
        debug=shape.debug,
    )
    declare_problem_responses(app)
    return bind_runtime(app, runtime)
