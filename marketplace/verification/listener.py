"""Verification that follows a deal's transitions: a submitted live post is checked after the step commits."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.models import PostSubmission
from marketplace.collaborations.states import Action
from marketplace.collaborations.transition import Change
from marketplace.verification.services import start_verification


class VerificationListener:
    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        if change.action is not Action.SUBMIT_POST or "submission_id" not in change.payload:
            return
        submission = await session.get(PostSubmission, UUID(str(change.payload["submission_id"])))
        if submission is not None:
            await start_verification(session, change.collaboration, submission, change.now)
