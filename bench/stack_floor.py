"""The stack's own floor for bench/web.py: a minimal Litestar app (no PostPact code) doing what a PostPact request
does at the least, on the same server, venv, database and Redis, so a PostPact figure can be read against what
Litestar + SQLAlchemy + asyncpg + Jinja + Redis sessions cost by themselves.

Routes, and what each is the floor of:

- ``POST /login?email=...``: signs a user of the bench database in (a session holding their id; not measured).
- ``/session``: the floor of any signed-in request. Litestar's own ``ServerSideSessionConfig`` middleware over a
  ``RedisStore``, then plaintext. The stock backend reads the session (GET) and writes it back (SET) on every
  response: two Redis round trips, where PostPact's backend makes one (it skips the write of an unchanged session).
- ``/fragment``: the floor of the nav badge poll and other signed-in fragments. The session read, one count (the
  user's unread notifications: ``ix_notification_user_unread`` once there are rows; the bench data has none, so, as
  for PostPact's badge, the database's part is small) and a one-line Jinja template.
- ``/listing``: the floor of an anonymous listing. No session; the 24 newest open gigs joined to their brand's name
  plus the total of open gigs, two statements through the SQLAlchemy ORM (mapped classes with only the columns
  shown, gig entities loaded, as PostPact's models are ORM), rendered as 24 cards inside a small layout.
- ``/listing-signed-in``: the session read, then ``/listing``: the fortunes-like signed-in listing.
- ``/listing-signed-in-no-count``: the floor of signed-in ``/gigs``: the same without the total. PostPact's ``/gigs``
  shows no total, and counting the bench's 80k open gigs (an index-only scan) costs PostgreSQL ~13 ms of CPU per
  request, more than the rest of the page: with it the listing is a floor of the database, not of the stack.

A signed-in route answers 401 without a stored session, so a lost session shows as errors in wrk's count rather
than as fast responses. Reads run on an AUTOCOMMIT connection (no BEGIN/ROLLBACK round trips), as PostPact's
read-only routes do; the pool is PostPact's (``DATABASE_POOL_SIZE``, as many overflow connections, no pre-ping,
asyncpg's default prepared statement cache). Money and dates are formatted in plain Python (PostPact uses Babel).

Configured from the environment: ``DATABASE_URL`` (a PostgreSQL URL, driven with asyncpg), ``REDIS_URL``,
``DATABASE_POOL_SIZE`` (default 10). Served by ``uvicorn --factory bench.stack_floor:create_app`` or granian's
``--factory``; bench/web.py starts it and signs in.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from jinja2 import DictLoader, Environment
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SESSION_COOKIE = "floor_session"
SESSION_USER = "uid"
PAGE_SIZE = 24

TEMPLATES = {
    "layout.html": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{% block title %}{% endblock %} · Floor</title></head>
<body>
<header><nav><a href="/">Floor</a> <a href="/listing">Gigs</a></nav></header>
<main id="main">{% block main %}{% endblock %}</main>
<footer>Stack floor</footer>
</body>
</html>""",
    "listing.html": """{% extends "layout.html" %}
{% block title %}Open gigs{% endblock %}
{% block main %}
<h1>Open gigs</h1>
{% if total is not none %}<p>{{ total }} open gigs</p>{% endif %}
<ul class="cards">
{% for gig, brand in rows %}
  <li class="card">
    <h2><a href="/gigs/{{ gig.id }}">{{ gig.title }}</a></h2>
    <p class="brand">{{ brand }}</p>
    <p class="fee">{{ gig.base_fee_amount|money(gig.currency) }}</p>
    <p class="date">Published {{ gig.published_at|day }}</p>
  </li>
{% endfor %}
</ul>
{% endblock %}""",
    "badge.html": "<span>{{ n }}</span>",
}


class Base(DeclarativeBase):
    pass


class Brand(Base):
    __tablename__ = "brand"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    name: Mapped[str]


class Gig(Base):
    __tablename__ = "gig"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id"))
    status: Mapped[str]
    title: Mapped[str]
    currency: Mapped[str]
    base_fee_amount: Mapped[int]
    published_at: Mapped[datetime | None]


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID]
    read_at: Mapped[datetime | None]


class UserAccount(Base):
    __tablename__ = "user_account"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str]


#: Open and published (ten open gigs of the bench data have no publication date; they would sort first).
OPEN = (Gig.status == "open", Gig.published_at.is_not(None))
NEWEST_OPEN = (
    sa.select(Gig, Brand.name)
    .join(Brand, Brand.id == Gig.brand_id)
    .where(*OPEN)
    .order_by(Gig.published_at.desc(), Gig.id.desc())
    .limit(PAGE_SIZE)
)
OPEN_TOTAL = sa.select(sa.func.count()).select_from(Gig).where(*OPEN)
UNREAD = sa.select(sa.func.count()).select_from(Notification).where(
    Notification.user_id == sa.bindparam("uid"), Notification.read_at.is_(None))


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


def day(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def asyncpg_url(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def session_user(request: Request[Any, Any, Any]) -> UUID | None:
    uid = request.session.get(SESSION_USER) if request.scope.get("session") else None
    return UUID(uid) if isinstance(uid, str) else None


def signed_out() -> Response[bytes]:
    return Response(b"no session", status_code=401, media_type=MediaType.TEXT)


def create_app() -> Litestar:
    pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "10"))
    engine: AsyncEngine = create_async_engine(asyncpg_url(os.environ["DATABASE_URL"]), pool_size=pool_size,
                                              max_overflow=pool_size, pool_recycle=1800)
    sessions = async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), class_=AsyncSession,
                                  expire_on_commit=False)
    templates = Environment(loader=DictLoader(TEMPLATES), autoescape=True, auto_reload=False)
    templates.filters.update(money=money, day=day)
    badge, listing = templates.get_template("badge.html"), templates.get_template("listing.html")

    async def render_listing(*, count: bool = True) -> Response[bytes]:
        async with sessions() as session:
            rows = (await session.execute(NEWEST_OPEN)).all()
            total = (await session.execute(OPEN_TOTAL)).scalar_one() if count else None
        return Response(listing.render(rows=rows, total=total).encode(), media_type=MediaType.HTML)

    @post("/login", media_type=MediaType.TEXT, status_code=200)
    async def login(request: Request[Any, Any, Any], email: str) -> str:
        async with sessions() as session:
            uid = (await session.execute(sa.select(UserAccount.id).where(UserAccount.email == email))).scalar_one()
        request.set_session({SESSION_USER: str(uid)})
        return "signed in"

    @get("/session", media_type=MediaType.TEXT)
    async def session_only(request: Request[Any, Any, Any]) -> Response[bytes]:
        if session_user(request) is None:
            return signed_out()
        return Response(b"Hello, signed-in World!", media_type=MediaType.TEXT)

    @get("/fragment", media_type=MediaType.HTML)
    async def fragment(request: Request[Any, Any, Any]) -> Response[bytes]:
        uid = session_user(request)
        if uid is None:
            return signed_out()
        async with sessions() as session:
            n = (await session.execute(UNREAD, {"uid": uid})).scalar_one()
        return Response(badge.render(n=n).encode(), media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})

    @get("/listing", media_type=MediaType.HTML)
    async def listing_anonymous() -> Response[bytes]:
        return await render_listing()

    @get("/listing-signed-in", media_type=MediaType.HTML)
    async def listing_signed_in(request: Request[Any, Any, Any]) -> Response[bytes]:
        if session_user(request) is None:
            return signed_out()
        return await render_listing()

    @get("/listing-signed-in-no-count", media_type=MediaType.HTML)
    async def listing_signed_in_no_count(request: Request[Any, Any, Any]) -> Response[bytes]:
        if session_user(request) is None:
            return signed_out()
        return await render_listing(count=False)

    @asynccontextmanager
    async def dispose_engine(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    store = RedisStore.with_client(url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                                   namespace="floor:sessions")
    session_config = ServerSideSessionConfig(key=SESSION_COOKIE, store="sessions", max_age=14 * 24 * 3600,
                                             httponly=True, samesite="lax", exclude=["^/listing$"])
    return Litestar([login, session_only, fragment, listing_anonymous, listing_signed_in, listing_signed_in_no_count],
                    middleware=[session_config.middleware], stores={"sessions": store}, lifespan=[dispose_engine],
                    openapi_config=None)
