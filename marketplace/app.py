"""create_app(settings) -> Litestar: the whole web application, with an explicit route list."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from marketplace.accounts.auth import ActorMiddleware
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


def _lifespan(runtime: Runtime, run_scheduler: bool) -> Any:
    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        scheduler = None
        if run_scheduler and isinstance(runtime.queue, InProcessQueue):
            scheduler = InProcessScheduler(runtime.queue, periodic_jobs())
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.stop()
            if isinstance(runtime.queue, InProcessQueue):
                await runtime.queue.drain()

    return lifespan


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_scheduler: bool | None = None
) -> Litestar:
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or build_runtime(settings)
    load_jobs()
    if run_scheduler is None:
        run_scheduler = not settings.app.is_test
    sessions = session_config(settings)
    proxies = parse_trusted_proxies(",".join(settings.app.trusted_proxies))
    refuse_unstorable_text(runtime.alchemy.get_engine())
    app = Litestar(
        route_handlers=route_handlers(settings),
        plugins=[SQLAlchemyPlugin(config=runtime.alchemy), HTMXPlugin()],
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
        before_send=[security_headers(proxies, always_https=settings.app.public_url.startswith("https://"))],
        stores={SESSION_STORE: session_store(settings)},
        exception_handlers={HTTPException: handle_exception, Exception: handle_exception},
        openapi_config=openapi_config(),
        state=State({"runtime": runtime}),
        lifespan=[_lifespan(runtime, run_scheduler)],
        request_max_body_size=settings.storage.max_upload_bytes + 1024 * 1024,
        debug=settings.app.debug,
    )
    declare_problem_responses(app)
    return app
