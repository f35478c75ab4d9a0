"""Demo data for `make run`: brands with teams, creators with profiles, gigs in every status, and deals at every stage.

Everything goes through the real services (sign-up, gigs, applications, deal steps, simulated escrow, ratings), so
the demo obeys the same rules as real use. History is played on a clock set months back, then brought to today.

Long because it is one story: the demo's people and deals in the order a visitor meets them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from escrow.models import EscrowHold, PayoutAccount
from marketplace.accounts.auth import Actor, load_actor
from marketplace.accounts.models import User, UserKind
from marketplace.accounts.services import AccountService, SignUp
from marketplace.applications.services import ApplicationService
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.clock import FrozenClock, SystemClock
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import SYSTEM, Action
from marketplace.collaborations.terms import Terms
from marketplace.collaborations.transition import transition
from marketplace.creators.services import CreatorProfileService
from marketplace.db import session_scope
from marketplace.deadlines.enforcement import ghost_collaboration
from marketplace.gigs.services import GigService
from marketplace.jobs import REGISTRY, RecordingQueue, RetryLater
from marketplace.messaging.services import Subject, post_to_subject
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.reputation.ratings import rate_collaboration
from marketplace.roster.demo import seed_roster
from marketplace.runtime import Runtime, build_runtime
from marketplace.sales.demo import seed_demo_sales
from marketplace.social.demo import seed_demo_social
from marketplace.stores.demo import seed_demo_store
from marketplace.verification.drafts import caption_gaps

DEMO_PASSWORD = "postpact-demo-2026"  # noqa: S105 - published on purpose: demo logins for a local database
ADMIN = "admin@postpact.test"

BRANDS = [
    # email, owner name, brand, website, country, description
    (
        "owner@glowlab.test",
        "Maya Chen",
        "GlowLab Skincare",
        "https://glowlab.example",
        "US",
        "Clean skincare for busy mornings. We send full-size products and pay on verified posts.",
    ),
    (
        "owner@trailfuel.test",
        "Sam Ortiz",
        "TrailFuel Snacks",
        "https://trailfuel.example",
        "GB",
        "Real-food trail snacks made in small batches.",
    ),
]
TEAM = [
    ("leo@glowlab.test", "Leo Park", "owner@glowlab.test", BrandRole.MANAGER),
    ("priya@glowlab.test", "Priya Shah", "owner@glowlab.test", BrandRole.FINANCE),
]
CREATORS = [
    # email, name, country, niches, languages, (platform, handle, followers, avg views, engagement bps)
    (
        "ava@creators.test",
        "Ava Brooks",
        "US",
        ["skincare", "beauty"],
        ["en"],
        ("tiktok", "avabrooks", 48_200, 21_000, 610),
    ),
    (
        "ben@creators.test",
        "Ben Okafor",
        "GB",
        ["fitness", "food"],
        ["en"],
        ("youtube", "benokafor", 22_400, 9_800, 480),
    ),
    (
        "chloe@creators.test",
        "Chloé Martin",
        "FR",
        ["beauty", "lifestyle"],
        ["fr", "en"],
        ("instagram", "chloe.martin", 15_300, 6_100, 530),
    ),
    (
        "dev@creators.test",
        "Dev Patel",
        "US",
        ["food", "outdoors"],
        ["en", "hi"],
        ("tiktok", "devpatel", 8_500, 4_200, 720),
    ),
    (
        "emma@creators.test",
        "Emma Larsen",
        "DK",
        ["outdoors", "travel"],
        ["da", "en"],
        ("instagram", "emmalarsen", 65_000, 18_500, 390),
    ),
    (
        "finn@creators.test",
        "Finn Murphy",
        "IE",
        ["fitness", "outdoors"],
        ["en"],
        ("tiktok", "finnmurphy", 3_200, 1_900, 880),
    ),
]
ADDRESSES = {
    "ava@creators.test": ("Ava Brooks", "12 Elm Street", "Austin", "TX", "73301", "US"),
    "chloe@creators.test": ("Chloé Martin", "8 rue des Lilas", "Lyon", "", "69003", "FR"),
    "dev@creators.test": ("Dev Patel", "400 Pine Ave", "Denver", "CO", "80203", "US"),
    "emma@creators.test": ("Emma Larsen", "Nørregade 5", "Copenhagen", "", "1165", "DK"),
    "finn@creators.test": ("Finn Murphy", "3 Quay Road", "Galway", "", "H91 X2Y3", "IE"),
    "ben@creators.test": ("Ben Okafor", "21 Mill Lane", "Leeds", "", "LS1 4AB", "GB"),
}


def _gig(
    title: str,
    brief: str,
    *,
    fee: int,
    product: str = "",
    value: int = 0,
    platform: str = "tiktok",
    kind: str = "video",
    slots: int = 3,
    niches: list[str] | None = None,
    currency: str = "USD",
    hashtags: list[str] | None = None,
    mentions: list[str] | None = None,
    apply_in_days: int = 21,
) -> dict[str, Any]:
    return {
        "title": title,
        "brief": brief,
        "currency": currency,
        "base_fee_amount": fee,
        "product_name": product,
        "product_retail_value": value,
        "product_included": bool(product),
        "slots": slots,
        "niches": niches or [],
        "apply_in_days": apply_in_days,
        "deliverables": [
            {
                "platform": platform,
                "kind": kind,
                "count": 1,
                "required_hashtags": hashtags or [],
                "required_mentions": mentions or [],
                "disclosure_required": True,
                "disclosure_text": "#ad",
            }
        ],
    }


@dataclass
class Seeder:
    runtime: Runtime
    clock: FrozenClock
    queue: RecordingQueue
    users: dict[str, UUID] = field(default_factory=dict)
    accounts: dict[str, UUID] = field(default_factory=dict)
    #: The history's posts are marked verified directly; only today's post goes through a check.
    check_posts: bool = False

    # -- plumbing

    async def actor(self, email: str) -> Actor:
        async with self.runtime.session_maker() as session:
            loaded = await load_actor(session, self.users[email], authenticated_at=self.clock.now())
            assert loaded is not None
            return loaded[0]

    async def run_jobs(self) -> None:
        """Money, mail and post-check jobs run as the worker would (post checks against an address that can't be
        reached, so they end as "needs review" — the same on every machine); reminders about the past would only
        be noise and are left out."""
        while self.queue.jobs:
            pending = self.queue.jobs.pop(0)
            if pending.name.startswith(("escrow.", "mail.")):
                await REGISTRY[pending.name].function(self.runtime.job_context(), *pending.args)
            elif pending.name == "verification.verify_post" and self.check_posts:
                for _attempt in range(10):  # the job gives up (needs review) after its own attempt limit
                    try:
                        await REGISTRY[pending.name].function(self.runtime.job_context(), *pending.args)
                        break
                    except RetryLater:
                        continue

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    # -- people

    async def people(self) -> None:
        async with session_scope(self.runtime.session_maker) as session:
            accounts = AccountService(session, self.runtime)
            for email, name, brand_name, website, country, description in BRANDS:
                user = await accounts.sign_up(
                    SignUp(UserKind.BRAND, email, DEMO_PASSWORD, name, brand_name=brand_name), ip=None
                )
                self.users[email] = user.id
                brand = await session.scalar(
                    sa.select(Brand)
                    .join(BrandMember, BrandMember.brand_id == Brand.id)
                    .where(BrandMember.user_id == user.id)
                )
                assert brand is not None
                brand.website, brand.country, brand.description = website, country, description
                brand.verified_at = self.clock.now() if "glowlab" in email else None
            for email, name, owner, role in TEAM:
                member = User(
                    email=email,
                    password_hash=self.runtime.passwords.hash(DEMO_PASSWORD),
                    kind=UserKind.BRAND,
                    full_name=name,
                )
                session.add(member)
                await session.flush()
                brand_id = await session.scalar(
                    sa.select(BrandMember.brand_id).where(BrandMember.user_id == self.users[owner])
                )
                session.add(BrandMember(brand_id=brand_id, user_id=member.id, role=role))
                self.users[email] = member.id
            for email, name, *_ in CREATORS:
                user = await accounts.sign_up(SignUp(UserKind.CREATOR, email, DEMO_PASSWORD, name), ip=None)
                self.users[email] = user.id
            admin = await accounts.create_admin(ADMIN, DEMO_PASSWORD, "Demo admin")
            self.users[ADMIN] = admin.id
        for email, name, country, niches, languages, (platform, handle, followers, views, bps) in CREATORS:
            actor = await self.actor(email)
            async with session_scope(self.runtime.session_maker) as session:
                profiles = CreatorProfileService(session)
                await profiles.update_details(
                    actor,
                    {
                        "display_name": name,
                        "country": country,
                        "niches": niches,
                        "languages": languages,
                        "bio": f"{name.split()[0]} makes honest {' and '.join(niches)} content.",
                    },
                )
                account = await profiles.save_social_account(
                    actor,
                    {
                        "platform": platform,
                        "handle": handle,
                        "profile_url": _profile_url(platform, handle),
                        "followers": followers,
                        "average_views": views,
                        "engagement_bps": bps,
                    },
                )
                self.accounts[email] = account.id
                await profiles.save_rate(
                    actor,
                    {
                        "platform": platform,
                        "kind": "video" if platform != "instagram" else "post",
                        "currency": "USD",
                        "base_fee_amount": 10_000 + followers // 10,
                    },
                )
                recipient, line1, city, region, postal, addr_country = ADDRESSES[email]
                await profiles.save_address(
                    actor,
                    {
                        "recipient_name": recipient,
                        "line1": line1,
                        "city": city,
                        "region": region,
                        "postal_code": postal,
                        "country": addr_country,
                    },
                )

    # -- gigs

    async def gig(self, brand_email: str, values: dict[str, Any], *, publish: bool = True) -> UUID:
        values = dict(values)
        values["apply_by"] = self.clock.now() + timedelta(days=values.pop("apply_in_days"))
        actor = await self.actor(brand_email)
        async with session_scope(self.runtime.session_maker) as session:
            gigs = GigService(session, self.runtime)
            gig = await gigs.create_gig(actor, values)
            if publish:
                await gigs.publish_gig(actor, gig.id)
            return gig.id

    async def close_gig(self, brand_email: str, gig_id: UUID, *, archive: bool = False) -> None:
        actor = await self.actor(brand_email)
        async with session_scope(self.runtime.session_maker) as session:
            gigs = GigService(session, self.runtime)
            await gigs.close_gig(actor, gig_id)
            if archive:
                await gigs.archive_gig(actor, gig_id)

    # -- deals

    async def apply(self, creator: str, gig_id: UUID, pitch: str) -> UUID:
        actor = await self.actor(creator)
        async with session_scope(self.runtime.session_maker) as session:
            application = await ApplicationService(session, self.runtime).apply(
                actor,
                gig_id,
                {"pitch": pitch, "social_account_id": self.accounts[creator], "counter_offer_amount": None},
            )
            return application.id

    async def accept(self, brand: str, gig_id: UUID, application_id: UUID) -> UUID:
        actor = await self.actor(brand)
        async with session_scope(self.runtime.session_maker) as session:
            decision = await ApplicationService(session, self.runtime).accept(actor, gig_id, [application_id])
            return decision.collaborations[application_id].id

    async def step(self, email: str, collab_id: UUID, name: str, **kwargs: Any) -> None:
        actor = await self.actor(email)
        async with session_scope(self.runtime.session_maker) as session:
            deals = DealService(session, settings=self.runtime.settings, clock=self.clock)
            if name == "sign":
                collab = await session.get(Collaboration, collab_id)
                assert collab is not None
                kwargs["terms_hash"] = collab.terms_hash
            await getattr(deals, name)(collab_id, actor, **kwargs)
        await self.run_jobs()

    async def system(self, collab_id: UUID, action: Action, payload: dict[str, Any] | None = None) -> None:
        async with session_scope(self.runtime.session_maker) as session:
            await transition(session, collab_id, action, SYSTEM, now=self.clock.now(), payload=payload)
        await self.run_jobs()

    async def fund(self, brand: str, collab_id: UUID) -> None:
        actor = await self.actor(brand)
        async with session_scope(self.runtime.session_maker) as session:
            await payments.fund_collaborations(
                session, actor, [collab_id], now=self.clock.now(), settings=self.runtime.settings
            )
        await self.run_jobs()
        provider = gateway.build_provider(self.runtime.settings, self.runtime.session_maker)
        async with session_scope(self.runtime.session_maker) as session:
            ref = await session.scalar(
                sa.select(EscrowHold.funding_ref).where(EscrowHold.collaboration_id == collab_id)
            )
            assert ref is not None, "the simulated funding was not created"
            funding = await provider.settle_funding(session, ref, succeed=True)  # type: ignore[attr-defined]
            await gateway.escrow_service(session, self.clock.now(), settings=self.runtime.settings).apply_funding(
                funding
            )
        await self.run_jobs()

    async def onboard(self, creator: str) -> None:
        actor = await self.actor(creator)
        async with session_scope(self.runtime.session_maker) as session:
            await payments.start_payout_onboarding(session, actor, now=self.clock.now(), settings=self.runtime.settings)
        await self.run_jobs()
        provider = gateway.build_provider(self.runtime.settings, self.runtime.session_maker)
        async with session_scope(self.runtime.session_maker) as session:
            ref = await session.scalar(
                sa.select(PayoutAccount.account_ref).where(PayoutAccount.creator_id == actor.creator_id)
            )
            assert ref is not None
            update = await provider.complete_onboarding(session, ref)  # type: ignore[attr-defined]
            await gateway.escrow_service(
                session, self.clock.now(), settings=self.runtime.settings
            ).apply_payout_account(update)
        await self.run_jobs()

    async def deal(self, brand: str, creator: str, gig_id: UUID, pitch: str) -> UUID:
        application = await self.apply(creator, gig_id, pitch)
        collab_id = await self.accept(brand, gig_id, application)
        await self.run_jobs()
        return collab_id

    async def through_post(
        self, brand: str, creator: str, collab_id: UUID, post_url: str, *, product: bool = True
    ) -> None:
        """Sign, fund, (ship and receive), draft, approval and the live post, a day or two apart."""
        await self.step(creator, collab_id, "sign")
        self.clock.advance(hours=20)
        await self.fund(brand, collab_id)
        if product:
            self.clock.advance(days=2)
            await self.step(brand, collab_id, "ship", carrier="UPS", tracking_number=_tracking())
            self.clock.advance(days=3)
            await self.step(creator, collab_id, "confirm_receipt")
        self.clock.advance(days=4)
        async with self.runtime.session_maker() as session:
            terms = Terms.from_dict((await session.get(Collaboration, collab_id)).terms)  # type: ignore[union-attr]
        caption = "My honest first week with it #ad"  # plus the tags this gig asks for, as a careful creator would
        caption = " ".join([caption, *(gap.text for gap in caption_gaps(terms, caption))])
        await self.step(
            creator,
            collab_id,
            "submit_draft",
            caption=caption,
            media_url="https://drive.example.com/drafts/first-cut.mp4",
        )
        self.clock.advance(days=1)
        await self.step(brand, collab_id, "approve_draft", comment="Love it — go ahead!")
        self.clock.advance(days=1)
        await self.step(creator, collab_id, "submit_post", url=post_url)

    async def message(self, email: str, collab_id: UUID, body: str) -> None:
        actor = await self.actor(email)
        async with session_scope(self.runtime.session_maker) as session:
            await post_to_subject(session, actor, Subject.of(collaboration_id=collab_id), body, now=self.clock.now())
        await self.run_jobs()


def _profile_url(platform: str, handle: str) -> str:
    return {
        "tiktok": f"https://www.tiktok.com/@{handle}",
        "youtube": f"https://www.youtube.com/@{handle}",
        "instagram": f"https://www.instagram.com/{handle}/",
    }[platform]


def _tracking() -> str:
    return "1Z" + uuid.uuid4().hex[:16].upper()


def _tiktok_post(handle: str, when: datetime) -> str:
    # TikTok video ids carry their creation time in the upper 32 bits: make the id match the demo's clock.
    video_id = (int(when.timestamp()) << 32) | (uuid.uuid4().int & 0xFFFFFFFF)
    return f"https://www.tiktok.com/@{handle}/video/{video_id}"


async def seed_demo(runtime: Runtime, *, only_if_empty: bool = True) -> list[tuple[str, str]] | None:
    async with runtime.session_maker() as session:
        if only_if_empty and await session.scalar(sa.select(sa.func.count(User.id))):
            return None
    today = SystemClock().now().replace(microsecond=0)
    clock = FrozenClock(today - timedelta(days=120))
    queue = RecordingQueue()
    # Post checks in the demo go to a closed local port: the result is "needs review" on every machine, with or
    # without internet (the demo's posts don't exist on TikTok).
    closed = "http://127.0.0.1:9/oembed"
    # Demo data never depends on an outside service: its money moves through the simulated provider (each hold
    # records its provider, so reconciliation and later steps know) and its emails stay in the outbox, even when
    # STRIPE_SECRET_KEY or SMTP_URL are set for the running app.
    offline = replace(runtime.settings, verification=replace(
        runtime.settings.verification, tiktok_oembed_url=closed, youtube_oembed_url=closed,
        instagram_oembed_url=closed, timeout_seconds=1.0),
        stripe=replace(runtime.settings.stripe, secret_key=None, publishable_key=None, webhook_secret=None,
                       api_base=None),
        email=replace(runtime.settings.email, smtp_url=None))
    seeding = build_runtime(offline, clock=clock, queue=queue, passwords=runtime.passwords,
                            rate_limiter=runtime.rate_limiter)
    try:
        await _play(Seeder(seeding, clock, queue), today)
    finally:
        await seeding.alchemy.get_engine().dispose()
    return demo_logins()


async def _play(s: Seeder, today: datetime) -> None:
    glow, trail = "owner@glowlab.test", "owner@trailfuel.test"
    ava, ben, chloe, dev, emma, finn = (c[0] for c in CREATORS)
    await s.people()
    for creator in (ava, chloe, dev):
        await s.onboard(creator)

    # --- history, four months ago: two deals delivered and paid, one creator who ghosted -------------------------
    summer = await s.gig(
        glow,
        _gig(
            "Summer glow challenge",
            "Seven days of our SPF glow routine, day one to day seven. Show the texture and how it sits under make-up.",
            fee=12_000,
            product="Glow SPF 30",
            value=3_800,
            slots=3,
            niches=["skincare", "beauty"],
            hashtags=["#glowlab"],
            mentions=["@glowlab"],
        ),
    )
    lip_balm = await s.gig(
        glow,
        _gig(
            "Autumn lip balm in your bag",
            "Show what's in your bag this autumn, with our lip balm in it.",
            fee=9_000,
            product="Lip balm trio",
            value=1_800,
            platform="instagram",
            kind="post",
            slots=2,
            niches=["beauty", "lifestyle"],
        ),
    )
    trail_pack = await s.gig(
        trail,
        _gig(
            "Summer trail pack taste test",
            "Take our trail pack on a real hike and tell people which flavour wins.",
            fee=8_000,
            product="Trail pack (6 bars)",
            value=2_400,
            slots=2,
            niches=["food", "outdoors"],
        ),
    )
    first = await s.deal(glow, ava, summer, "I post a skincare routine every morning; SPF is my most asked topic.")
    second = await s.deal(glow, chloe, lip_balm, "Mes abonnées adorent les routines minimalistes.")
    ghosted = await s.deal(trail, dev, trail_pack, "I hike every weekend and film everything I eat on the trail.")
    # Ava's second delivered deal lifts her out of probation (Bronze: two unposted deals at a time), so the tour's
    # "Ava applies" works while her serum draft waits for GlowLab's review.
    sunny_trail = await s.gig(
        trail,
        _gig(
            "Sunny trail snacks",
            "Show what you pack for a sunny day out: sun care, water and our bars.",
            fee=7_000,
            product="Trail pack (6 bars)",
            value=2_400,
            slots=1,
            niches=["outdoors", "skincare"],
        ),
    )
    trail_ava = await s.deal(trail, ava, sunny_trail, "My morning hikes end with a snack review, every Sunday.")
    await s.through_post(glow, ava, first, _tiktok_post("avabrooks", s.clock.now() + timedelta(days=11)))
    await s.through_post(glow, chloe, second, "https://www.instagram.com/p/DAbCdEfGhIj/")
    await s.through_post(trail, ava, trail_ava, _tiktok_post("avabrooks", s.clock.now() + timedelta(days=11)))
    for collab_id, brand in ((first, glow), (second, glow), (trail_ava, trail)):
        await s.system(collab_id, Action.MARK_VERIFIED, {"seeded": "verified for the demo"})
        async with session_scope(s.runtime.session_maker) as session:
            await session.execute(sa.update(PostSubmission).where(PostSubmission.collaboration_id == collab_id)
                                  .values(verification_status="verified"))
        s.clock.advance(hours=30)
        await s.step(brand, collab_id, "approve_post", comment="Thank you — great post!")
    s.clock.advance(days=15)
    for collab_id in (first, second, trail_ava):
        await s.system(collab_id, Action.COMPLETE, {"kept_live_days": 14})
    await _rate(s, glow, ava, first)
    await _rate(s, glow, chloe, second)
    # Dev received the trail pack and never posted: PostPact ghosts the deal and refunds TrailFuel.
    await s.step(dev, ghosted, "sign")
    await s.fund(trail, ghosted)
    await s.step(trail, ghosted, "ship", carrier="Royal Mail", tracking_number=_tracking())
    s.clock.advance(days=2)
    await s.step(dev, ghosted, "confirm_receipt")
    async with session_scope(s.runtime.session_maker) as session:
        collab = await session.get(Collaboration, ghosted)
        assert collab is not None and collab.due_post is not None
        ghost_at = collab.due_post + timedelta(hours=collab.terms.get("ghost_grace_hours", 72) + 1)
    s.at(ghost_at)

    async with session_scope(s.runtime.session_maker) as session:
        await ghost_collaboration(session, ghosted, s.clock.now(), public_url=s.runtime.settings.app.public_url)
    await s.run_jobs()
    await s.close_gig(glow, summer)
    await s.close_gig(glow, lip_balm, archive=True)
    await s.close_gig(trail, trail_pack, archive=True)
    await s.close_gig(trail, sunny_trail, archive=True)

    # --- today: gigs in every status and deals at every stage --------------------------------------------------
    s.at(today - timedelta(days=12))
    serum = await s.gig(
        glow,
        _gig(
            "Morning routine with our Vitamin C serum",
            "Show the serum in your real morning "
            "routine and how your skin feels after a week. Natural light, no filters.",
            fee=15_000,
            product="Vitamin C serum 30 ml",
            value=4_500,
            slots=3,
            niches=["skincare", "beauty"],
            hashtags=["#glowlab"],
            mentions=["@glowlab"],
        ),
    )
    gift = await s.gig(
        glow,
        _gig(
            "Holiday gift set unboxing",
            "Unbox our holiday set and pick your favourite piece for a friend.",
            fee=12_000,
            product="Holiday gift set",
            value=8_000,
            platform="instagram",
            kind="post",
            slots=2,
            niches=["beauty", "lifestyle"],
        ),
    )
    await s.gig(
        glow,
        _gig(
            "Spring SPF launch teaser",
            "A 15-second teaser for our spring launch.",
            fee=9_000,
            product="SPF 50 fluid",
            value=3_200,
            slots=5,
        ),
        publish=False,
    )
    trail_mix = await s.gig(
        trail,
        _gig(
            "Trail mix taste test on the trail",
            "Open a bag on the trail and rate each flavour in a reel. Real hikes only.",
            fee=9_000,
            product="Trail mix sampler",
            value=2_500,
            platform="instagram",
            slots=4,
            niches=["food", "outdoors"],
            hashtags=["#trailfuel"],
        ),
    )
    energy_bar = await s.gig(
        trail,
        _gig(
            "Honest review of our energy bar",
            "A sit-down review: taste, texture, how it holds up on a long ride.",
            fee=20_000,
            product="Energy bars (12)",
            value=3_000,
            platform="youtube",
            slots=2,
            niches=["fitness", "food"],
        ),
    )
    story = await s.gig(
        trail,
        _gig(
            "Tell our founder's story",
            "A 30-second TikTok about why TrailFuel started. No product to ship: we send the story notes.",
            fee=6_000,
            slots=3,
            niches=["outdoors", "travel"],
        ),
    )

    # Ava: draft submitted, waiting for GlowLab's review.
    s.at(today - timedelta(days=10))
    ava_now = await s.deal(glow, ava, serum, "My routine videos average 21k views; I'd love to feature the serum.")
    await s.step(ava, ava_now, "sign")
    s.clock.advance(hours=10)
    await s.fund(glow, ava_now)
    s.clock.advance(days=1)
    await s.step(glow, ava_now, "ship", carrier="UPS", tracking_number=_tracking())
    s.clock.advance(days=3)
    await s.step(ava, ava_now, "confirm_receipt")
    await s.message(ava, ava_now, "Got the serum today — it smells amazing. Filming at the weekend!")
    await s.message("leo@glowlab.test", ava_now, "Great! Remember to show the dropper close-up, thanks Ava.")
    s.clock.advance(days=4)
    await s.step(
        ava,
        ava_now,
        "submit_draft",
        caption="Week one with @glowlab Vitamin C serum #glowlab #ad",
        media_url="https://drive.example.com/ava/serum-week-one.mp4",
    )
    # Chloé: funded and shipped; the parcel is on its way.
    s.at(today - timedelta(days=4))
    chloe_now = await s.deal(glow, chloe, gift, "Les coffrets cadeaux marchent très bien chez moi en décembre.")
    await s.step(chloe, chloe_now, "sign")
    await s.fund(glow, chloe_now)
    s.clock.advance(days=2)
    await s.step(glow, chloe_now, "ship", carrier="DHL", tracking_number=_tracking())
    # Dev: a product-less story, posted; PostPact's check runs when the app is up.
    s.at(today - timedelta(days=6))
    dev_now = await s.deal(trail, dev, story, "Happy to tell the story — I met your founder at a trail run.")
    await s.step(dev, dev_now, "sign")
    await s.fund(trail, dev_now)
    s.clock.advance(days=2)
    await s.step(
        dev,
        dev_now,
        "submit_draft",
        caption="Why TrailFuel started, in 15 seconds #ad",
        media_url="https://drive.example.com/dev/story.mp4",
    )
    s.clock.advance(days=1)
    await s.step(trail, dev_now, "approve_draft", comment="Perfect.")
    s.check_posts = True
    await s.step(dev, dev_now, "submit_post", url=_tiktok_post("devpatel", s.clock.now()))
    s.check_posts = False
    # Emma: signed, waiting for TrailFuel to fund. Ben: offered, waiting for his signature. Finn: applied.
    s.at(today - timedelta(days=2))
    emma_now = await s.deal(trail, emma, trail_mix, "My hiking reels reach 18k people; I'll take it up a glacier.")
    await s.step(emma, emma_now, "sign")
    await s.deal(trail, ben, energy_bar, "I review fuel for long rides on my channel every Friday.")
    s.at(today - timedelta(days=1))
    await s.apply(finn, story, "Short-form outdoor content with an engaged audience (8.8% engagement).")
    s.at(today)
    await s.run_jobs()
    await seed_demo_store(s, glow, [finn, dev], today)  # GlowLab's simulated shop; sizes picked at signing
    await seed_demo_sales(s, glow, today)  # Mia's and Noah's codes, clicks, orders, refunds, commission via escrow
    await seed_roster(s.runtime, s.users[glow])
    await seed_demo_social(s.runtime, s.users, s.clock.now())  # verified audiences and a post's readings


async def _rate(s: Seeder, brand: str, creator: str, collab_id: UUID) -> None:
    for email, stars, comment in (
        (brand, 5, "On time, great content, easy to work with."),
        (creator, 5, "Clear brief, paid the moment the post was verified."),
    ):
        actor = await s.actor(email)
        async with session_scope(s.runtime.session_maker) as session:
            await rate_collaboration(session, actor, collab_id, stars=stars, comment=comment, now=s.clock.now())


def demo_logins() -> list[tuple[str, str]]:
    logins = [(f"brand owner ({b[2]})", b[0]) for b in BRANDS]
    logins += [(f"brand {role.value} (GlowLab)", email) for email, _, _, role in TEAM]
    logins += [("creator", c[0]) for c in CREATORS]
    logins.append(("admin", ADMIN))
    return logins


async def has_demo_accounts(runtime: Runtime) -> bool:
    async with runtime.session_maker() as session:
        return bool(await session.scalar(sa.select(sa.func.count(User.id)).where(User.email == ADMIN)))
