"""Test helpers for messaging and notifications: applications and collaborations to talk about, actors, tokens."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.auth import Actor, load_actor
from marketplace.accounts.services import AccountService
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Platform, SocialAccount
from marketplace.db import session_scope
from marketplace.gigs.models import Gig, GigStatus
from marketplace.runtime import Runtime


@dataclass
class Talk:
    """A brand and a creator with something to talk about."""

    brand: Any
    creator: Any
    gig_id: uuid.UUID
    application_id: uuid.UUID
    collaboration_id: uuid.UUID | None = None


async def make_application(
    runtime: Runtime,
    brand: Any,
    creator: Any,
    *,
    status: ApplicationStatus = ApplicationStatus.PENDING,
    title: str = "Summer glow serum",
) -> Talk:
    """An open gig of ``brand`` and ``creator``'s application to it (rows written directly, minimal fields)."""
    async with session_scope(runtime.session_maker) as session:
        gig = Gig(
            brand_id=brand.brand_id,
            created_by_id=brand.user_id,
            status=GigStatus.OPEN,
            title=title,
            brief="Show the serum in your morning routine.",
            base_fee_amount=5000,
            currency="USD",
        )
        session.add(gig)
        account = await session.scalar(sa.select(SocialAccount).where(SocialAccount.creator_id == creator.creator_id))
        if account is None:
            handle = f"casey{uuid.uuid4().hex[:10]}"
            account = SocialAccount(
                creator_id=creator.creator_id,
                platform=Platform.TIKTOK,
                handle=handle,
                profile_url=f"https://www.tiktok.com/@{handle}",
                followers=12000,
            )
            session.add(account)
        await session.flush()
        application = Application(
            gig_id=gig.id,
            creator_id=creator.creator_id,
            brand_id=brand.brand_id,
            social_account_id=account.id,
            pitch="I'd love to do this.",
            status=status,
        )
        session.add(application)
        await session.flush()
        return Talk(brand, creator, gig.id, application.id)


async def make_collaboration(runtime: Runtime, brand: Any, creator: Any, *, title: str = "Summer glow serum") -> Talk:
    """An accepted application and its collaboration (offered), written directly."""
    talk = await make_application(runtime, brand, creator, status=ApplicationStatus.ACCEPTED, title=title)
    terms = {"gig_title": title, "fee_amount": 5000, "currency": "USD"}
    async with session_scope(runtime.session_maker) as session:
        application = await session.get(Application, talk.application_id)
        assert application is not None
        collaboration = Collaboration(
            gig_id=talk.gig_id,
            application_id=talk.application_id,
            brand_id=brand.brand_id,
            creator_id=creator.creator_id,
            social_account_id=application.social_account_id,
            status=CollabState.OFFERED,
            state_changed_at=runtime.clock.now(),
            event_count=0,
            terms=terms,
            terms_hash=hashlib.sha256(repr(sorted(terms.items())).encode()).hexdigest(),
            fee_amount=5000,
            currency="USD",
            product_included=True,
            due_overrides={},
        )
        session.add(collaboration)
        await session.flush()
        talk.collaboration_id = collaboration.id
    return talk


async def actor_for(runtime: Runtime, person: Any) -> Actor:
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, person.user_id)
    assert loaded is not None
    return loaded[0]


async def api_headers(runtime: Runtime, person: Any) -> dict[str, str]:
    """A bearer token for ``person`` (made through the service: the sign-in API is rate limited)."""
    async with session_scope(runtime.session_maker) as session:
        _, raw = await AccountService(session, runtime).create_api_token(person.user_id, "tests")
    return {"Authorization": f"Bearer {raw}"}
