"""Connecting, refreshing and disconnecting a creator's accounts, and the verified audience read through them.

The OAuth state (and PKCE verifier) lives in the server-side session of the creator who started, for ten minutes
and one use: a callback whose state isn't the one we handed out, or that comes a second time, is refused.
Tokens are sealed with the stores vault (Fernet under ``STORES_ENCRYPTION_KEYS`` or a key derived from
``SECRET_KEY``); they are never logged (``Tokens`` has a blind repr) and never rendered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.clock import Clock, as_utc
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.creators.services import sync_creator_totals
from marketplace.db import session_scope
from marketplace.settings import Settings
from marketplace.social.clients import (
    API_CLASSES,
    RATE_LIMITS,
    AccountApi,
    ApiError,
    Profile,
    TokenRejected,
    engagement_bps,
)
from marketplace.social.models import ConnectionStatus, SocialConnection
from marketplace.social.oauth import LABELS, OAuthFlow, OAuthRefused, OAuthUnavailable, Tokens
from marketplace.social.ranking import sync_ranking_prior
from marketplace.stores.vault import SecretBox
from marketplace.verification.ratelimit import TokenBucket

log = logging.getLogger(__name__)

SESSION_KEY = "social_oauth"
STATE_LIFETIME = timedelta(minutes=10)
#: Refresh this long before expiry, so a job never starts with a token that dies mid-run. Instagram's 60-day token
#: is refreshed a week ahead (it can be refreshed once it is a day old).
REFRESH_AHEAD = {"instagram": timedelta(days=7), "tiktok": timedelta(minutes=10), "youtube": timedelta(minutes=10)}
#: Posts the engagement rate is averaged over.
RECENT_MEDIA = 12


class ConnectionRefused(Exception):
    """Why a connection attempt ended without a connection; the message is written for the creator."""


@dataclass
class PlatformKit:
    """Per process and event loop: one HTTP client and one token bucket per platform, shared by pages and jobs."""

    http: httpx.AsyncClient
    buckets: dict[str, TokenBucket]

    def api(self, settings: Settings, platform: str, clock: Clock) -> AccountApi:
        return API_CLASSES[platform](self.http, settings.social.platform(platform).api_base, self.buckets[platform],
                                     clock.now)


def platform_kit(resources: dict[str, Any], settings: Settings) -> PlatformKit:
    key = f"social.kit:{id(asyncio.get_running_loop())}"
    if key not in resources:
        http = httpx.AsyncClient(timeout=settings.social.timeout_seconds, trust_env=False,
                                 headers={"User-Agent": "PostPact connected accounts"})
        resources[key] = PlatformKit(http, {p: TokenBucket(limit) for p, limit in RATE_LIMITS.items()})
    kit: PlatformKit = resources[key]
    return kit


def oauth_flow(settings: Settings, platform: str) -> OAuthFlow:
    config = settings.social.platform(platform)
    if not config.enabled:
        raise ConnectionRefused(f"{LABELS.get(platform, platform)} can't be connected on this PostPact.")
    redirect = f"{settings.app.public_url}/creator/social/{platform}/callback"
    return OAuthFlow(platform, config, redirect, timeout=settings.social.timeout_seconds)


def begin_connection(session_data: MutableMapping[str, Any], settings: Settings, platform: str,
                     now: datetime) -> str:
    """The platform's consent link; the state and verifier wait in this browser's session."""
    start = oauth_flow(settings, platform).start()
    pending = dict(session_data.get(SESSION_KEY) or {})
    pending[platform] = {"state": start.state, "verifier": start.code_verifier, "at": now.isoformat()}
    session_data[SESSION_KEY] = pending
    return start.url


def take_pending(session_data: MutableMapping[str, Any], platform: str, state: str | None,
                 now: datetime) -> str | None:
    """Use up the pending attempt (whatever the outcome): returns its PKCE verifier, or refuses the callback."""
    pending = dict(session_data.get(SESSION_KEY) or {})
    attempt = pending.pop(platform, None)
    session_data[SESSION_KEY] = pending
    if not isinstance(attempt, dict):
        raise ConnectionRefused("This sign-in link was already used or never started here. Start again.")
    if not state or state != attempt.get("state"):
        raise ConnectionRefused("The answer from the platform doesn't match the connection you started. Start again.")
    if now - as_utc(datetime.fromisoformat(str(attempt["at"]))) > STATE_LIFETIME:
        raise ConnectionRefused("The connection took too long. Start again.")
    verifier = attempt.get("verifier")
    return str(verifier) if verifier else None


def _seal(box: SecretBox, conn: SocialConnection, tokens: Tokens) -> None:
    conn.access_token_enc = box.seal(tokens.access_token)
    conn.refresh_token_enc = box.seal(tokens.refresh_token) if tokens.refresh_token else None
    conn.token_expires_at = tokens.expires_at
    conn.scope = tokens.scope


def _tokens_of(box: SecretBox, conn: SocialConnection) -> Tokens:
    return Tokens(box.open(conn.access_token_enc),
                  box.open(conn.refresh_token_enc) if conn.refresh_token_enc else None,
                  as_utc(conn.token_expires_at) if conn.token_expires_at else None, conn.scope)


def mark_reconnect(conn: SocialConnection, reason: str) -> None:
    """The platform refused us: forget the dead tokens and ask the creator to connect again."""
    conn.status = ConnectionStatus.RECONNECT.value
    conn.status_reason = reason[:300]
    conn.access_token_enc = ""
    conn.refresh_token_enc = None
    log.info("social connection %s (%s) needs reconnecting: %s", conn.id, conn.platform, reason)


async def fresh_access_token(session: AsyncSession, settings: Settings, conn: SocialConnection,
                             now: datetime) -> str | None:
    """A usable access token, refreshed (and stored) when it is close to expiry; None when the creator must
    reconnect (the connection is marked so)."""
    if conn.needs_reconnect or not conn.access_token_enc:
        return None
    box = SecretBox.from_settings(settings)
    tokens = _tokens_of(box, conn)
    if tokens.expires_at is not None and tokens.expires_at - REFRESH_AHEAD[conn.platform] <= now:
        try:
            tokens = await oauth_flow(settings, conn.platform).refresh(tokens, now)
        except OAuthRefused as exc:
            mark_reconnect(conn, f"the platform refused to refresh the connection ({exc})")
            await session.flush()
            return None
        except (OAuthUnavailable, ConnectionRefused):
            if tokens.expires_at <= now:
                raise
            return tokens.access_token  # still valid a little longer: try refreshing next time
        _seal(box, conn, tokens)
        await session.flush()
    return tokens.access_token


@dataclass(frozen=True)
class Audience:
    profile: Profile
    engagement_bps: int | None
    #: The oldest publish time among the recent media read (None: no dated media).
    oldest_post: datetime | None


async def _audience(api: AccountApi, token: str) -> Audience:
    profile = await api.profile(token)
    media = (await api.recent_media(token, RECENT_MEDIA))[:RECENT_MEDIA]
    dated = [m.published_at for m in media if m.published_at is not None]
    return Audience(profile, engagement_bps(media, profile.followers), min(dated) if dated else None)


async def record_audience(session: AsyncSession, conn: SocialConnection, audience: Audience, now: datetime) -> None:
    """Store what the platform said about the account: verified numbers, history, the listed account's figures."""
    profile, rate = audience.profile, audience.engagement_bps
    conn.followers, conn.media_count, conn.engagement_bps = profile.followers, profile.media_count, rate
    conn.audience_fetched_at = now
    if audience.oldest_post is not None and (conn.history_since is None
                                             or audience.oldest_post < as_utc(conn.history_since)):
        conn.history_since = audience.oldest_post
    if profile.handle:
        conn.handle = profile.handle[:100]
    # The listed account with this handle now carries the verified numbers (the directory filters read them).
    await session.scalar(sa.select(Creator.id).where(Creator.id == conn.creator_id).with_for_update())
    account = await session.scalar(sa.select(SocialAccount).where(
        SocialAccount.platform == Platform(conn.platform), SocialAccount.handle == conn.handle))
    if account is None:
        session.add(SocialAccount(creator_id=conn.creator_id, platform=Platform(conn.platform), handle=conn.handle,
                                  profile_url=profile_url(conn.platform, conn.handle),
                                  followers=profile.followers or 0, engagement_bps=rate or 0))
    elif account.creator_id == conn.creator_id:
        account.followers = profile.followers if profile.followers is not None else account.followers
        account.engagement_bps = rate if rate is not None else account.engagement_bps
    await sync_creator_totals(session, conn.creator_id)
    await session.flush()
    await sync_ranking_prior(session, conn.creator_id, now)


def profile_url(platform: str, handle: str) -> str:
    return {"instagram": f"https://www.instagram.com/{handle}/", "tiktok": f"https://www.tiktok.com/@{handle}",
            "youtube": f"https://www.youtube.com/@{handle}"}[platform]


async def complete_connection(session: AsyncSession, settings: Settings, kit: PlatformKit, clock: Clock,
                              creator_id: UUID, platform: str, code: str, verifier: str | None) -> SocialConnection:
    now = clock.now()
    try:
        tokens = await oauth_flow(settings, platform).exchange(code, verifier, now)
        api = kit.api(settings, platform, clock)
        audience = await _audience(api, tokens.access_token)
        profile = audience.profile
    except OAuthRefused:
        raise ConnectionRefused(f"{LABELS[platform]} refused the connection. Start again.") from None
    except (OAuthUnavailable, ApiError) as exc:
        log.warning("connecting %s for creator %s failed: %s", platform, creator_id, exc)
        raise ConnectionRefused(f"{LABELS[platform]} didn't answer properly. Try again in a few minutes.") from None
    if not profile.external_id:
        raise ConnectionRefused(f"{LABELS[platform]} didn't say which account this is. Start again.")
    taken = await session.scalar(sa.select(SocialConnection.creator_id).where(
        SocialConnection.platform == platform, SocialConnection.external_id == profile.external_id,
        SocialConnection.creator_id != creator_id))
    if taken is not None:
        raise ConnectionRefused(f"This {LABELS[platform]} account is connected to another PostPact account.")
    conn = await session.scalar(sa.select(SocialConnection).where(
        SocialConnection.creator_id == creator_id, SocialConnection.platform == platform).with_for_update())
    if conn is None:
        conn = SocialConnection(creator_id=creator_id, platform=platform, external_id=profile.external_id,
                                handle=profile.handle, access_token_enc="")
        session.add(conn)
    conn.external_id, conn.handle = profile.external_id, profile.handle
    conn.status, conn.status_reason = ConnectionStatus.ACTIVE.value, ""
    _seal(SecretBox.from_settings(settings), conn, tokens)
    await record_audience(session, conn, audience, now)
    await session.flush()
    log.info("creator %s connected %s account %s", creator_id, platform, profile.external_id)
    return conn


async def refresh_audience(session_maker: async_sessionmaker[AsyncSession], settings: Settings, kit: PlatformKit,
                           clock: Clock, connection_id: UUID) -> str:
    """Re-read followers, media count and engagement (the daily job); a refused token asks for a reconnect.

    Three short transactions, none open while the platform answers: take a usable token, read the account, store
    what it said (the connection re-read under its lock: a disconnect meanwhile wins).
    """
    now = clock.now()
    async with session_scope(session_maker) as session:
        conn = await session.get(SocialConnection, connection_id, with_for_update=True)
        if conn is None or conn.needs_reconnect or not settings.social.platform(conn.platform).enabled:
            return "gone"
        platform, creator_id = conn.platform, conn.creator_id
        token = await fresh_access_token(session, settings, conn, now)
        if token is None:
            await sync_ranking_prior(session, creator_id, now)
            return "reconnect"
    try:
        audience = await _audience(kit.api(settings, platform, clock), token)
    except TokenRejected as exc:
        refused: str | None = str(exc)
    else:
        refused = None
    async with session_scope(session_maker) as session:
        conn = await session.get(SocialConnection, connection_id, with_for_update=True)
        if conn is None or conn.needs_reconnect:
            return "gone"
        if refused is not None:
            mark_reconnect(conn, refused)
            await session.flush()
            await sync_ranking_prior(session, creator_id, now)
            return "reconnect"
        await record_audience(session, conn, audience, now)
    return "refreshed"


async def disconnect(session: AsyncSession, settings: Settings, creator_id: UUID, platform: str,
                     now: datetime) -> bool:
    """Delete the connection and its tokens (revoked at the platform where it can be, best effort)."""
    conn = await session.scalar(sa.select(SocialConnection).where(
        SocialConnection.creator_id == creator_id, SocialConnection.platform == platform).with_for_update())
    if conn is None:
        return False
    if conn.access_token_enc and settings.social.platform(platform).enabled:
        with contextlib.suppress(OAuthUnavailable, ConnectionRefused):
            await oauth_flow(settings, platform).revoke(_tokens_of(SecretBox.from_settings(settings), conn))
    await session.delete(conn)
    await session.flush()
    await sync_ranking_prior(session, creator_id, now)
    log.info("creator %s disconnected %s", creator_id, platform)
    return True


async def connections_of(session: AsyncSession, creator_id: UUID) -> dict[str, SocialConnection]:
    rows = await session.scalars(sa.select(SocialConnection).where(SocialConnection.creator_id == creator_id))
    return {c.platform: c for c in rows}


async def active_connection(session: AsyncSession, creator_id: UUID, platform: str) -> SocialConnection | None:
    return await session.scalar(sa.select(SocialConnection).where(
        SocialConnection.creator_id == creator_id, SocialConnection.platform == platform,
        SocialConnection.status == ConnectionStatus.ACTIVE.value))


async def verified_handles(session: AsyncSession, creator_ids: list[UUID]) -> dict[tuple[UUID, str, str], datetime]:
    """(creator, platform, handle) → when the audience was fetched, for labelling numbers verified."""
    if not creator_ids:
        return {}
    rows = await session.execute(sa.select(
        SocialConnection.creator_id, SocialConnection.platform, SocialConnection.handle,
        SocialConnection.audience_fetched_at).where(
        SocialConnection.creator_id.in_(creator_ids), SocialConnection.status == ConnectionStatus.ACTIVE.value,
        SocialConnection.audience_fetched_at.is_not(None)))
    return {(c, p, h): as_utc(t) for c, p, h, t in rows}
