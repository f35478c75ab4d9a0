"""Metric fetches that follow a deal's transitions: after posting (1 h … 7 d, re-timed from the platform's publish
time once verification read it) and daily through keep-live."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.models import PostSubmission
from marketplace.collaborations.states import Action, CollabState
from marketplace.collaborations.transition import Change
from marketplace.social.metrics import retime_after_posting, schedule_after_posting, schedule_keep_live
from marketplace.verification.models import PostCheck
from marketplace.verification.services import current_submission

#: Transitions that carry a post check: by then verification has read the post's publish time.
CHECKED = frozenset({Action.MARK_VERIFIED, Action.RECORD_VERIFICATION})


class MetricsScheduleListener:
    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        if change.action is Action.SUBMIT_POST and "submission_id" in change.payload:
            submission = await session.get(PostSubmission, UUID(str(change.payload["submission_id"])))
            if submission is not None and submission.post_ref:
                await schedule_after_posting(session, change.collaboration, submission, change.now)
        elif change.action in CHECKED and "post_check_id" in change.payload:
            check = await session.get(PostCheck, UUID(str(change.payload["post_check_id"])))
            if check is not None and check.published_at is not None:
                await retime_after_posting(session, check.submission_id, check.published_at, change.now)
        elif change.changed and change.to_state is CollabState.RELEASED:
            submission = await current_submission(session, change.collaboration.id)
            if submission is not None and submission.post_ref:
                await schedule_keep_live(session, change.collaboration, submission, change.now)
