"""Factories for the gig-side funnel that other areas' tests use: gigs, creators with social accounts, applications,
and "apply and accept → collaboration". They go through the real services (fast: a few statements each)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.auth import Actor, load_actor
from marketplace.applications.models import Application
from marketplace.applications.services import ApplicationService
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import SocialAccount
from marketplace.creators.services import CreatorProfileService
from marketplace.db import session_scope
from marketplace.gigs.models import Gig
from marketplace.gigs.services import GigService
from marketplace.runtime import Runtime


async def actor_for(runtime: Runtime, person: Any) -> Actor:
    """The Actor a signed-in request of this person would have (brand role, creator id...)."""
    async with session_scope(runtime.session_maker) as session:
        loaded = await load_actor(session, person.user_id)
    assert loaded is not None, f"no active user {person.user_id}"
    return loaded[0]


def gig_input(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    """Valid gig values (as ``check_gig`` reads them): a $150 TikTok video gig with a $45 product, 3 slots."""
    values: dict[str, Any] = {
        "title": "Unboxing video of our vitamin C serum",
        "brief": "Show the serum in your morning routine; mention how it feels after a week.",
        "currency": "USD",
        "base_fee_amount": 15_000,
        "product_name": "Vitamin C serum",
        "product_retail_value": 4_500,
        "product_included": True,
        "apply_by": runtime.clock.now() + timedelta(days=14),
        "slots": 3,
        "deliverables": [{
            "platform": "tiktok", "kind": "video", "count": 1, "required_hashtags": ["#glowlab"],
            "required_mentions": ["@glowlab"], "disclosure_required": True, "disclosure_text": "#ad",
        }],
    }
    values.update(overrides)
    return values


async def make_gig(runtime: Runtime, brand: Any, *, publish: bool = True, niches: list[str] | None = None,
                   **overrides: Any) -> Gig:
    """A gig of ``brand`` (a Person from ``people.brand()``), open by default; ``publish=False`` leaves a draft."""
    actor = await actor_for(runtime, brand)
    async with session_scope(runtime.session_maker) as session:
        gigs = GigService(session, runtime)
        gig = await gigs.create_gig(actor, gig_input(runtime, niches=niches or [], **overrides))
        if publish:
            await gigs.publish_gig(actor, gig.id)
        return gig


async def make_open_gig(runtime: Runtime, brand: Any, **overrides: Any) -> Gig:
    """An open gig for brand X with one TikTok video deliverable (pass ``deliverables=[...]`` for others)."""
    return await make_gig(runtime, brand, publish=True, **overrides)


async def add_social_account(runtime: Runtime, creator: Any, *, platform: str = "tiktok",
                             handle: str | None = None, followers: int = 12_000, engagement_bps: int = 420,
                             average_views: int = 5_000) -> SocialAccount:
    """Link a social account to ``creator`` (a Person from ``people.creator()``) through the profile service."""
    actor = await actor_for(runtime, creator)
    handle = handle or f"creator_{uuid.uuid4().hex[:10]}"
    async with session_scope(runtime.session_maker) as session:
        return await CreatorProfileService(session).save_social_account(actor, {
            "platform": platform, "handle": handle, "profile_url": f"https://www.{platform}.com/@{handle}",
            "followers": followers, "average_views": average_views, "engagement_bps": engagement_bps,
        })


async def set_creator_profile(runtime: Runtime, creator: Any, **values: Any) -> None:
    """Country, niches, languages... (``display_name`` defaults to the current one)."""
    actor = await actor_for(runtime, creator)
    async with session_scope(runtime.session_maker) as session:
        await CreatorProfileService(session).update_details(actor, {"display_name": actor.name, **values})


@dataclass
class CreatorWithAccount:
    person: Any
    account: SocialAccount

    @property
    def creator_id(self) -> uuid.UUID:
        return self.person.creator_id  # type: ignore[no-any-return]


async def make_creator_with_account(runtime: Runtime, people: Any, *, platform: str = "tiktok",
                                    followers: int = 12_000, country: str | None = None,
                                    niches: list[str] | None = None, **person: Any) -> CreatorWithAccount:
    """A signed-up creator with one social account (and optionally a country and niches)."""
    creator = await people.creator(**person)
    account = await add_social_account(runtime, creator, platform=platform, followers=followers)
    if country or niches:
        await set_creator_profile(runtime, creator, country=country, niches=niches or [])
    return CreatorWithAccount(creator, account)


async def make_creators_with_accounts(runtime: Runtime, people: Any, names: list[str], *, platform: str = "tiktok",
                                     followers: int = 12_000) -> list[CreatorWithAccount]:
    """One signed-up creator with one social account per name, as ``make_creator_with_account`` makes them (sign-up,
    then the profile service), in one transaction: a campaign's hundreds of creators in seconds, not a connection
    and a commit per step of each."""
    from marketplace.accounts.models import UserKind
    from marketplace.accounts.services import AccountService, SignUp
    from marketplace.creators.models import Creator
    from tests.conftest import Person

    made: list[CreatorWithAccount] = []
    async with session_scope(runtime.session_maker) as session:
        accounts, profiles = AccountService(session, runtime), CreatorProfileService(session)
        for name in names:
            email = f"creator-{uuid.uuid4().hex[:10]}@example.test"
            user = await accounts.sign_up(SignUp(UserKind.CREATOR, email, people.password, name), ip=None)
            creator_id = await session.scalar(sa.select(Creator.id).where(Creator.user_id == user.id))
            loaded = await load_actor(session, user.id)
            assert loaded is not None
            handle = f"creator_{uuid.uuid4().hex[:10]}"
            account = await profiles.save_social_account(loaded[0], {
                "platform": platform, "handle": handle, "profile_url": f"https://www.{platform}.com/@{handle}",
                "followers": followers, "average_views": 5_000, "engagement_bps": 420,
            })
            made.append(CreatorWithAccount(Person(email, people.password, user.id, creator_id=creator_id), account))
    return made


async def apply_to_gig(runtime: Runtime, creator: Any, gig_id: uuid.UUID, account_id: uuid.UUID, *,
                       pitch: str = "I review skincare every week; my audience loves routines.",
                       counter_offer_amount: int | None = None) -> Application:
    actor = await actor_for(runtime, creator)
    async with session_scope(runtime.session_maker) as session:
        return await ApplicationService(session, runtime).apply(actor, gig_id, {
            "pitch": pitch, "social_account_id": account_id, "counter_offer_amount": counter_offer_amount,
        })


async def apply_to_gig_all(runtime: Runtime, creators: list[CreatorWithAccount], gig_id: uuid.UUID, *,
                           pitch: str = "I review skincare every week; my audience loves routines.") -> None:
    """Each creator applies to the gig with their account, as ``apply_to_gig`` does, in one transaction."""
    async with session_scope(runtime.session_maker) as session:
        applications = ApplicationService(session, runtime)
        for made in creators:
            loaded = await load_actor(session, made.person.user_id)
            assert loaded is not None, f"no active user {made.person.user_id}"
            await applications.apply(loaded[0], gig_id, {"pitch": pitch, "social_account_id": made.account.id,
                                                         "counter_offer_amount": None})


async def accept_application(runtime: Runtime, brand: Any, gig_id: uuid.UUID,
                             application_id: uuid.UUID) -> Collaboration:
    """Accept as the brand (owner or manager): returns the new collaboration in ``offered``."""
    actor = await actor_for(runtime, brand)
    async with session_scope(runtime.session_maker) as session:
        decision = await ApplicationService(session, runtime).accept(actor, gig_id, [application_id])
        return decision.collaborations[application_id]


@dataclass
class Deal:
    brand: Any
    creator: Any
    gig: Gig
    account: SocialAccount
    application: Application
    collaboration: Collaboration


async def make_collaboration(runtime: Runtime, people: Any, *, brand: Any = None, creator: Any = None,
                             **gig_overrides: Any) -> Deal:
    """Apply and accept → a collaboration in ``offered`` (a new brand and creator unless given)."""
    brand = brand or await people.brand()
    gig = await make_open_gig(runtime, brand, **gig_overrides)
    platform = str(gig_input(runtime, **gig_overrides)["deliverables"][0]["platform"])
    if creator is None:
        made = await make_creator_with_account(runtime, people, platform=platform)
        creator, account = made.person, made.account
    else:
        account = await add_social_account(runtime, creator, platform=platform)
    application = await apply_to_gig(runtime, creator, gig.id, account.id)
    collaboration = await accept_application(runtime, brand, gig.id, application.id)
    return Deal(brand, creator, gig, account, application, collaboration)


#: A gig form the brand page accepts (a test clock before 2026-12-20), for page tests to post or vary.
GIG_FORM = {
    "title": "Morning routine video",
    "brief": "Show our serum in your morning routine.",
    "product_included": "on",
    "product_name": "Vitamin C serum",
    "product_retail_value.amount": "45.00",
    "base_fee.amount": "150.00",
    "base_fee.currency": "USD",
    "commission_bps": "12.5",
    "apply_by": "2026-12-20T18:00",
    "ship_within_days": "7",
    "post_within_days": "14",
    "revision_rounds": "1",
    "review_window_hours": "72",
    "keep_live_days": "14",
    "reminder_offsets_hours": "-48, 24",
    "slots": "5",
    "eligible_countries": "us, ca",
    "niches": "skincare, wellness",
    "deliverables[0].platform": "tiktok",
    "deliverables[0].kind": "video",
    "deliverables[0].count": "2",
    "deliverables[0].required_hashtags": "#glowlab vitaminc",
    "deliverables[0].required_mentions": "@glowlab",
    "deliverables[0].disclosure_required": "on",
    "deliverables[0].disclosure_text": "#ad",
}
