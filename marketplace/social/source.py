"""The "account API" source of post verification: the post read from the creator's own connected account.

Preferred over oEmbed when the creator connected the platform: the post must be in the account's own media list,
so authorship is proven, the caption is complete and the publish time is the platform's (YouTube's oEmbed has
none). Returns None whenever oEmbed should decide instead: no active connection, the post isn't in the account's
recent media (someone else's post, or gone — oEmbed tells which), or the API failed in a way that says nothing
about the post. A 429 is a transient failure carrying the platform's Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import logging
from uuid import UUID

from marketplace.clock import Clock
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.db import session_scope
from marketplace.jobs import JobContext
from marketplace.social.clients import ApiError, Media, RateLimited, TokenRejected
from marketplace.social.connections import active_connection, fresh_access_token, mark_reconnect, platform_kit
from marketplace.social.models import SocialConnection
from marketplace.verification.adapters import content_fingerprint
from marketplace.verification.outcomes import Engagement, FetchedPost, FetchOutcome, TransientFetchError
from marketplace.verification.posts import InvalidPostUrl, Platform, PostRef, parse_post_url

log = logging.getLogger(__name__)


def fetched_from_account(ref: PostRef, url: str, media: Media, handle: str, clock: Clock) -> FetchedPost:
    raw = json.dumps(dict(media.raw), sort_keys=True, default=str).encode()
    author = media.author_handle or handle
    return FetchedPost(
        platform=ref.platform, requested_url=url, post_id=ref.post_id, author_handle=author, author_name=None,
        author_url=None, caption=media.caption, caption_is_complete=True, published_at=media.published_at,
        published_at_source="account_api" if media.published_at else None,
        engagement=Engagement(likes=media.likes, comments=media.comments, shares=media.shares, views=media.views),
        raw_payload=raw, payload=dict(media.raw), payload_sha256=hashlib.sha256(raw).hexdigest(),
        content_sha256=content_fingerprint(ref.platform, ref.post_id, author, media.caption),
        fetched_at=clock.now())


async def _note_refused(ctx: JobContext, connection_id: UUID, reason: str) -> None:
    async with session_scope(ctx.session_maker) as session:
        conn = await session.get(SocialConnection, connection_id, with_for_update=True)
        if conn is not None:
            mark_reconnect(conn, reason)


async def fetch_from_account(ctx: JobContext, submission_id: UUID, url: str) -> FetchOutcome | None:
    try:
        ref = parse_post_url(url)
    except InvalidPostUrl:
        return None
    platform = ref.platform.value
    if not ctx.settings.social.platform(platform).enabled:
        return None
    async with session_scope(ctx.session_maker) as session:
        submission = await session.get(PostSubmission, submission_id)
        collab = await session.get(Collaboration, submission.collaboration_id) if submission else None
        conn = await active_connection(session, collab.creator_id, platform) if collab else None
        if conn is None:
            return None
        token = await fresh_access_token(session, ctx.settings, conn, ctx.clock.now())
        connection_id, handle = conn.id, conn.handle
    if token is None:
        return None
    api = platform_kit(ctx.resources, ctx.settings).api(ctx.settings, platform, ctx.clock)
    try:
        media = await api.find_media(token, ref.post_id)
    except RateLimited as exc:
        return TransientFetchError(platform=Platform(platform), requested_url=url, reason=str(exc), status_code=429,
                                   retry_after=exc.retry_after, fetched_at=ctx.clock.now())
    except TokenRejected as exc:
        await _note_refused(ctx, connection_id, str(exc))
        return None
    except ApiError as exc:
        log.warning("account API read of %s failed (%s); oEmbed decides", url, exc)
        return None
    if media is None:
        return None
    return fetched_from_account(ref, url, media, handle, ctx.clock)
