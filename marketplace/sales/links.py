"""Tracking links: ``GET /r/{slug}`` logs a human click (no raw IP kept) and 302-redirects to the deal's landing page.

Kept to two statements (read the link, insert the click; on PostgreSQL a ``SET LOCAL`` before the insert) and no
session or template work, because creators' links get the traffic spikes of a post going live.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import sqlalchemy as sa
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.ratelimit import Limit
from marketplace.sales.models import DealTracking, LinkClick
from marketplace.web import runtime_of

#: Per visitor (hashed address + browser): generous for people, a wall for a script hammering one link.
REDIRECT_LIMIT = Limit(attempts=30, window_seconds=60)

#: User agents of crawlers, link unfurlers and scripts: their visits are redirected but not counted.
BOT_AGENTS = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|facebookcatalog|embedly|quora link preview|whatsapp|telegram|"
    r"skypeuripreview|preview|headless|python-requests|python-httpx|curl|wget|go-http-client|okhttp|java/|"
    r"libwww|scrapy|httpclient|monitor|pingdom|uptime|lighthouse",
    re.IGNORECASE)


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(BOT_AGENTS.search(user_agent))


def visitor_hash(secret: str, address: str, user_agent: str, day: date) -> str:
    """A salted hash of address, browser and day: repeat clicks de-duplicate within a day, and no IP is stored
    (the salt is the app's secret, so the hash can't be reversed by trying every address)."""
    message = f"{day.isoformat()}|{address}|{user_agent}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


class TrackingLinks(Controller):
    path = "/r"
    include_in_schema = False

    @get("/{slug:str}", name="tracking_link", cache=False)
    async def follow(self, request: Request[object, object, object], slug: FromPath[str],
                     db_session: NamedDependency[AsyncSession]) -> Response[str]:
        runtime = runtime_of(request)
        now = runtime.clock.now()
        agent = request.headers.get("user-agent", "")[:400]
        visitor = visitor_hash(runtime.settings.app.secret_key, request.client.host if request.client else "",
                               agent, now.date())
        decision = await runtime.rate_limiter.hit(f"r:{visitor}", REDIRECT_LIMIT)
        if not decision.allowed:
            return Response("Too many requests.", status_code=429, media_type="text/plain",
                            headers={"Retry-After": str(decision.retry_after)})
        row = (await db_session.execute(sa.select(DealTracking.id, DealTracking.target_url).where(
            DealTracking.slug == slug[:40]))).first()
        if row is None or not row.target_url:
            return Response("This link doesn't lead anywhere.", status_code=404, media_type="text/plain")
        if not is_bot(agent):
            if db_session.bind.dialect.name == "postgresql":
                # A click is analytics, not money: don't wait for the WAL flush (a crash loses at most the last
                # few milliseconds of clicks, never consistency), which is most of the redirect's time.
                await db_session.execute(sa.text("SET LOCAL synchronous_commit = off"))
            db_session.add(LinkClick(tracking_id=row.id, clicked_at=now, visitor=visitor, created_at=now,
                                     updated_at=now))
        return Response("", status_code=302, headers={
            "Location": row.target_url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer-when-downgrade",
            "X-Robots-Tag": "noindex"})
