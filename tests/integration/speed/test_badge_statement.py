"""The nav badge poll runs a statement built once per side (creator, brand, neither), bound per user."""

from __future__ import annotations

from marketplace.db import session_scope
from marketplace.messaging import services as messaging
from marketplace.notifications import services as notifications
from marketplace.notifications.services import badge_counts, badge_statement
from tests.support.messaging import actor_for, make_collaboration


def test_badge_statement_is_built_once_per_side() -> None:
    creator_side = badge_statement(True, False)
    assert badge_statement(True, False) is creator_side
    assert badge_statement(False, True) is not creator_side
    assert badge_statement(False, False) is not badge_statement(False, True)


async def test_one_prebuilt_statement_counts_each_users_own_unread(runtime, people) -> None:
    """Two deals, so a count bound to the wrong party or user would show: each side sees only its own."""
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    other = await make_collaboration(runtime, await people.brand(), await people.creator())
    brand, creator = await actor_for(runtime, talk.brand), await actor_for(runtime, talk.creator)
    other_creator = await actor_for(runtime, other.creator)
    other_brand = await actor_for(runtime, other.brand)
    async with session_scope(runtime.session_maker) as session:
        # Posting marks one's own thread read: the creator opens, the brand answers three times.
        await messaging.post_to_subject(session, creator, messaging.Subject("collaboration", talk.collaboration_id),
                                        "hi", now=runtime.clock.now())
        for text in ("a", "b", "c"):
            await messaging.post_to_subject(session, brand, messaging.Subject("collaboration", talk.collaboration_id),
                                            text, now=runtime.clock.now())
        await messaging.post_to_subject(session, other_brand,
                                        messaging.Subject("collaboration", other.collaboration_id), "x",
                                        now=runtime.clock.now())
        await messaging.post_to_subject(session, other_creator,
                                        messaging.Subject("collaboration", other.collaboration_id), "y",
                                        now=runtime.clock.now())
        await notifications.notify(session, [talk.creator.user_id], kind="application.accepted", title="Accepted",
                                   body="Congratulations.", link="/creator/applications")
    async with runtime.session_maker() as session:
        assert await badge_counts(session, creator) == notifications.BadgeCounts(notifications=1, messages=3)
        assert await badge_counts(session, brand) == notifications.BadgeCounts(notifications=0, messages=0)
        assert await badge_counts(session, other_brand) == notifications.BadgeCounts(notifications=0, messages=1)
        assert await badge_counts(session, other_creator) == notifications.BadgeCounts(notifications=0, messages=0)
