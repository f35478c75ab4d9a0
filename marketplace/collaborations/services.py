"""The deal services: creating a collaboration on acceptance, then every step brand and creator take until the post.

Long because each step is a short method over the same locks and checks; split, the steps would read apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.applications.models import Application
from marketplace.brands.models import Brand
from marketplace.clock import Clock
from marketplace.collaborations import uploads
from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import (
    Collaboration,
    CollaborationEvent,
    ContentDraft,
    DraftReview,
    PostSubmission,
    Shipment,
)
from marketplace.collaborations.states import Action, CollabState, Party, TransitionActor, check_transition
from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.collaborations.terms import terms_hash as hash_of_terms
from marketplace.collaborations.transition import Change, lock_collaboration, transition
from marketplace.creators.models import Creator, ShippingAddress, SocialAccount
from marketplace.errors import Conflict, InvalidInput
from marketplace.forms import REASON_MAX, URL_MAX, clean_text, clean_url
from marketplace.gigs.models import Deliverable, Gig
from marketplace.i18n import N_, current_locale, gettext
from marketplace.reputation.services import creator_eligibility
from marketplace.settings import Settings
from marketplace.stores.signing import chosen_variant_terms
from marketplace.verification.drafts import caption_gaps, gaps_in_words
from marketplace.verification.posts import InvalidPostUrl, Platform, parse_post_url

if TYPE_CHECKING:
    from marketplace.accounts.auth import Actor
    from marketplace.runtime import Runtime


def build_terms(gig: Gig, deliverables: list[Deliverable], application: Application, creator: Creator,
                account: SocialAccount, brand: Brand) -> Terms:
    """Freeze the gig as it is at acceptance; later edits of the gig never change a signed deal."""
    fee = application.counter_offer_amount if application.counter_offer_amount is not None else gig.base_fee_amount
    return Terms(
        gig_id=str(gig.id),
        gig_title=gig.title,
        brief=gig.brief,
        brand_name=brand.name,
        creator_display_name=creator.display_name,
        currency=gig.currency,
        fee_amount=fee,
        commission_bps=gig.commission_bps,
        product_included=gig.product_included,
        product_name=gig.product_name,
        product_retail_value=gig.product_retail_value,
        deliverables=tuple(
            DeliverableTerms(
                platform=d.platform.value if hasattr(d.platform, "value") else str(d.platform),
                kind=d.kind.value if hasattr(d.kind, "value") else str(d.kind),
                count=d.count,
                required_hashtags=tuple(d.required_hashtags or ()),
                required_mentions=tuple(d.required_mentions or ()),
                disclosure_required=d.disclosure_required,
                disclosure_text=d.disclosure_text,
            )
            for d in deliverables
        ),
        platform=account.platform.value if hasattr(account.platform, "value") else str(account.platform),
        handle=account.handle,
        revision_rounds=gig.revision_rounds,
        ship_within_days=gig.ship_within_days,
        post_within_days=gig.post_within_days,
        review_window_hours=gig.review_window_hours,
        keep_live_days=gig.keep_live_days,
        ghost_grace_hours=gig.ghost_grace_hours,
        reminder_offsets_hours=tuple(int(h) for h in (gig.reminder_offsets_hours or (-72, -24, 24, 72))),
    )


async def create_collaboration(session: AsyncSession, application_id: UUID, *, now: datetime,
                               accepted_by_id: UUID | None) -> Collaboration:
    """Turn an accepted application into a collaboration in ``offered`` with its terms snapshot and first event.

    The caller (accepting applications) has already checked the brand's rights, the gig's slots and locked the gig.
    """
    application = await session.get(Application, application_id)
    if application is None:
        raise LookupError(f"application {application_id} not found")
    gig = await session.get(Gig, application.gig_id)
    creator = await session.get(Creator, application.creator_id)
    account = await session.get(SocialAccount, application.social_account_id)
    brand = await session.get(Brand, application.brand_id)
    assert gig is not None and creator is not None and account is not None and brand is not None
    deliverables = list(
        await session.scalars(sa.select(Deliverable).where(Deliverable.gig_id == gig.id).order_by(Deliverable.id))
    )
    terms = build_terms(gig, deliverables, application, creator, account, brand)
    collab = Collaboration(
        gig_id=gig.id,
        application_id=application.id,
        brand_id=gig.brand_id,
        creator_id=creator.id,
        social_account_id=account.id,
        status=CollabState.OFFERED,
        state_changed_at=now,
        event_count=1,
        terms=terms.to_dict(),
        terms_hash=terms.content_hash(),
        # The language the offer was made in (the accepting brand's): the deal page offers the terms in it.
        terms_locale=current_locale(),
        fee_amount=terms.fee_amount,
        currency=terms.currency,
        product_included=terms.product_included,
        revision_rounds_allowed=terms.revision_rounds,
        revision_rounds_used=0,
        due_overrides={},
        created_at=now,
    )
    recompute_due_dates(collab, now)
    session.add(collab)
    await session.flush()
    session.add(
        CollaborationEvent(
            collaboration_id=collab.id,
            seq=1,
            action="offer",
            from_state=CollabState.OFFERED.value,
            to_state=CollabState.OFFERED.value,
            actor_party="brand",
            actor_user_id=accepted_by_id,
            payload={"terms_hash": collab.terms_hash, "application_id": str(application.id)},
            created_at=now,
        )
    )
    await session.flush()
    return collab


# --- the deal, step by step ---------------------------------------------------------------------------------------

CAPTION_MAX = 5_000
COMMENT_MAX = 5_000
_TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{2,99}$")


def check_shipment(carrier: str, tracking_number: str, tracking_url: str | None) -> tuple[str, str, str | None]:
    """A shipment's carrier, tracking number and link, cleaned (one deal's ship, a tracking CSV's rows); raises
    InvalidInput with a message per field."""
    errors: dict[str, str] = {}
    carrier = clean_text(errors, "carrier", carrier, label=N_('Carrier'), max_length=60, required=True, min_length=2)
    tracking_number = clean_text(errors, "tracking_number", tracking_number, label=N_('Tracking number'),
                                 max_length=100, required=True)
    if "tracking_number" not in errors and not _TRACKING_NUMBER.match(tracking_number):
        errors["tracking_number"] = gettext("Enter the tracking number as the carrier shows it (letters and digits).")
    url = clean_url(errors, "tracking_url", tracking_url, label=N_('Tracking link'), required=False)
    if errors:
        raise InvalidInput(errors)
    return carrier, tracking_number, url


@dataclass
class StepResult:
    """What a deal step did: the collaboration after it, the event it recorded, and the row it wrote (if any)."""

    collaboration: Collaboration
    event: CollaborationEvent
    record: Shipment | ContentDraft | PostSubmission | None = None


def as_transition_actor(actor: Actor | TransitionActor) -> TransitionActor:
    return actor if isinstance(actor, TransitionActor) else TransitionActor.of(actor)


class DealService:
    """Every step a brand or creator takes on a deal between the offer and the live post.

    Each method locks the collaboration, refuses outsiders (404), wrong roles (403) and impossible steps (409)
    before validating its input (422), then moves the state through ``transition()``, writes its rows and tells
    the other side. Nothing commits here: the caller's transaction (one request, one job, or a bulk action looping
    over many ids) decides.
    """

    def __init__(self, session: AsyncSession, *, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock

    @classmethod
    def of(cls, session: AsyncSession, runtime: Runtime) -> DealService:
        return cls(session, settings=runtime.settings, clock=runtime.clock)

    # -- shared plumbing

    async def _begin(self, collab_id: UUID, action: Action, actor: Actor | TransitionActor
                     ) -> tuple[Collaboration, TransitionActor, datetime]:
        who = as_transition_actor(actor)
        now = self.clock.now()
        collab = await lock_collaboration(self.session, collab_id)
        check_transition(collab, action, who, now)
        return collab, who, now

    async def _move(self, collab: Collaboration, action: Action, who: TransitionActor, now: datetime,
                    payload: dict[str, Any] | None = None) -> Change:
        return await transition(self.session, collab.id, action, who, now=now, payload=payload, collab=collab)

    # -- the offer

    async def sign(self, collab_id: UUID, actor: Actor | TransitionActor, *, terms_hash: str,
                   store_variant_id: str | UUID | None = None) -> StepResult:
        """The creator accepts the terms, quoting the hash of what they read. When the product comes from a
        connected store with options (size, colour), the creator's in-stock choice joins the terms, and the signed
        hash is that of the terms with the choice (the event keeps the offered hash too)."""
        collab, who, now = await self._begin(collab_id, Action.SIGN, actor)
        offered_hash = collab.terms_hash
        if (terms_hash or "").strip().lower() != offered_hash:
            raise InvalidInput(
                {
                    "terms_hash": gettext(
                        "That isn't the hash of this deal's terms: reload the deal and sign the terms it shows."
                    )
                }
            )
        if collab.product_included:
            has_address = await self.session.scalar(
                sa.select(ShippingAddress.id).where(ShippingAddress.creator_id == collab.creator_id)
            )
            if has_address is None:
                raise Conflict(
                    gettext(
                        "Add your shipping address to your profile before signing: the brand needs it to send you "
                        "the product."
                    )
                )
        # Tier caps (deal value, deals signed but not yet posted) bind at the signature too: a new creator can be
        # offered several deals at once, but can only take on as many as their track record allows.

        gig = await self.session.get(Gig, collab.gig_id)
        assert gig is not None
        verdict = await creator_eligibility(self.session, collab.creator_id, gig, now, fee_amount=collab.fee_amount)
        if not verdict.allowed:
            raise Conflict(" ".join(verdict.reasons))
        choice = await chosen_variant_terms(self.session, gig.id, collab.product_included, store_variant_id)
        if choice:
            collab.terms = {**collab.terms, **choice}
            collab.terms_hash = hash_of_terms(collab.terms)
        collab.signed_locale = current_locale()  # the language the creator read the terms in when signing
        result = await self._move(collab, Action.SIGN, who, now, {
            "terms_hash": collab.terms_hash, **({"offered_terms_hash": offered_hash, **choice} if choice else {})})
        return StepResult(collab, result.event)

    async def decline_offer(self, collab_id: UUID, actor: Actor | TransitionActor, *, reason: str = ""
                            ) -> StepResult:
        return await self._end(collab_id, Action.DECLINE_OFFER, actor, reason)

    async def withdraw_offer(self, collab_id: UUID, actor: Actor | TransitionActor, *, reason: str = ""
                             ) -> StepResult:
        return await self._end(collab_id, Action.WITHDRAW_OFFER, actor, reason)

    async def cancel(self, collab_id: UUID, actor: Actor | TransitionActor, *, reason: str = "",
                     no_show: bool = False, confirmed: bool = True) -> StepResult:
        """Cancel a signed or funded deal (``no_show``: the creator cancels because the brand never shipped).
        A funded deal is refunded to the brand through escrow in the same transaction; if escrow can't act, the
        cancellation is refused with PaymentsUnavailable (503) and nothing changes. The deal page's form asks for
        an explicit confirmation (``confirmed``), checked once the step itself is allowed."""
        return await self._end(collab_id, Action.CANCEL_NO_SHOW if no_show else Action.CANCEL, actor, reason,
                               confirmed=confirmed)

    async def end_deal(self, collab_id: UUID, actor: Actor | TransitionActor, *, reason: str = "",
                       no_show: bool = False) -> StepResult:
        """One "cancel" for any party and state: declines or withdraws an offer, cancels a signed or funded deal."""
        who = as_transition_actor(actor)
        collab = await lock_collaboration(self.session, collab_id)
        action = Action.CANCEL_NO_SHOW if no_show else Action.CANCEL
        if not no_show and CollabState(collab.status) is CollabState.OFFERED:
            action = Action.WITHDRAW_OFFER if who.party is Party.BRAND else Action.DECLINE_OFFER
        return await self._end(collab_id, action, who, reason)

    async def _end(self, collab_id: UUID, action: Action, actor: Actor | TransitionActor, reason: str, *,
                   confirmed: bool = True) -> StepResult:
        collab, who, now = await self._begin(collab_id, action, actor)
        errors: dict[str, str] = {}
        if not confirmed:
            money = " and the escrowed payment goes back to the brand" if collab.funded_at else ""
            errors["confirm"] = gettext("Tick the box to confirm: cancelling ends the deal for both sides%(money)s.",
                                        money=money)
        reason = clean_text(errors, "reason", reason, label=N_('Reason'), max_length=REASON_MAX)
        if errors:
            raise InvalidInput(errors)
        # The refund of a signed or funded deal follows the move (marketplace.payments.listener).
        result = await self._move(collab, action, who, now, {"reason": reason} if reason else {})
        return StepResult(collab, result.event)

    # -- shipping

    async def ship(self, collab_id: UUID, actor: Actor | TransitionActor, *, carrier: str, tracking_number: str,
                   tracking_url: str | None = None) -> StepResult:
        collab, who, now = await self._begin(collab_id, Action.SHIP, actor)
        carrier, tracking_number, url = check_shipment(carrier, tracking_number, tracking_url)
        result = await self._move(collab, Action.SHIP, who, now,
                                  {"carrier": carrier, "tracking_number": tracking_number})
        shipment = Shipment(collaboration_id=collab.id, carrier=carrier, tracking_number=tracking_number,
                            tracking_url=url, shipped_at=now, created_at=now, updated_at=now)
        self.session.add(shipment)
        await self.session.flush()
        return StepResult(collab, result.event, shipment)

    async def _latest_shipment(self, collab_id: UUID) -> Shipment | None:
        return await self.session.scalar(
            sa.select(Shipment).where(Shipment.collaboration_id == collab_id)
            .order_by(Shipment.shipped_at.desc(), Shipment.id.desc()).limit(1)
        )

    async def confirm_receipt(self, collab_id: UUID, actor: Actor | TransitionActor) -> StepResult:
        collab, who, now = await self._begin(collab_id, Action.CONFIRM_RECEIPT, actor)
        result = await self._move(collab, Action.CONFIRM_RECEIPT, who, now)
        shipment = await self._latest_shipment(collab.id)
        if shipment is not None:
            shipment.received_at = now
        return StepResult(collab, result.event, shipment)

    async def report_problem(self, collab_id: UUID, actor: Actor | TransitionActor, *, problem: str) -> StepResult:
        """The parcel is late, damaged or wrong: recorded (state unchanged) and the brand is told."""
        collab, who, now = await self._begin(collab_id, Action.REPORT_PROBLEM, actor)
        errors: dict[str, str] = {}
        problem = clean_text(errors, "problem", problem, label=N_('What went wrong'), max_length=REASON_MAX,
                             required=True)
        if errors:
            raise InvalidInput(errors)
        result = await self._move(collab, Action.REPORT_PROBLEM, who, now, {"problem": problem})
        shipment = await self._latest_shipment(collab.id)
        if shipment is not None:
            shipment.problem = problem
            shipment.problem_reported_at = now
        return StepResult(collab, result.event, shipment)

    # -- content

    async def submit_draft(self, collab_id: UUID, actor: Actor | TransitionActor, *, caption: str,
                           media_url: str | None = None, upload: uploads.DraftUpload | None = None) -> StepResult:
        """A draft is a caption plus a link to the media or an uploaded photo/video (type checked by content)."""
        collab, who, now = await self._begin(collab_id, Action.SUBMIT_DRAFT, actor)
        errors: dict[str, str] = {}
        caption = clean_text(errors, "caption", caption, label=N_('Caption'), max_length=CAPTION_MAX, required=True)
        url = clean_url(errors, "media_url", media_url, label=N_('Media link'), required=False)
        media: uploads.MediaType | None = None
        if upload is not None:
            media, problem = uploads.check_upload(upload, self.settings.storage.max_upload_bytes)
            if problem:
                errors["file"] = problem
        if upload is None and not url and "media_url" not in errors:
            errors["media_url"] = gettext('Add a link to the photo or video, or upload the file.')
        if errors:
            raise InvalidInput(errors)
        rounds = await self.session.scalar(
            sa.select(sa.func.count(ContentDraft.id)).where(ContentDraft.collaboration_id == collab.id)
        )
        draft = ContentDraft(collaboration_id=collab.id, round=(rounds or 0) + 1, caption=caption, media_url=url,
                             submitted_by_id=who.user_id, created_at=now, updated_at=now)
        if upload is not None and media is not None:
            draft.upload_path = uploads.draft_upload_path(collab.id, media)
            draft.upload_content_type = media.mime
            draft.upload_size = len(upload.data)
        self.session.add(draft)
        await self.session.flush()
        result = await self._move(collab, Action.SUBMIT_DRAFT, who, now,
                                  {"draft_id": str(draft.id), "round": draft.round})
        if upload is not None and draft.upload_path:
            await uploads.store(self.session, self.settings.storage.upload_dir, draft.upload_path, upload.data)
        return StepResult(collab, result.event, draft)

    async def _draft_under_review(self, collab: Collaboration) -> ContentDraft:
        draft = await self.session.scalar(
            sa.select(ContentDraft)
            .where(ContentDraft.collaboration_id == collab.id, ContentDraft.review == DraftReview.PENDING)
            .order_by(ContentDraft.round.desc()).limit(1)
        )
        if draft is None:
            raise Conflict(gettext('There is no draft waiting for review.'))
        return draft

    async def approve_draft(self, collab_id: UUID, actor: Actor | TransitionActor, *, comment: str = "",
                            approve_anyway: bool = False) -> StepResult:
        """A draft whose caption lacks the disclosure, a required hashtag or mention (``verification.drafts``) is
        approved only when the brand says so explicitly (``approve_anyway``); the approval event records what was
        missing."""
        return await self._review(collab_id, Action.APPROVE_DRAFT, actor, comment, approve_anyway=approve_anyway)

    async def request_changes(self, collab_id: UUID, actor: Actor | TransitionActor, *, comment: str
                              ) -> StepResult:
        """Uses one revision round; refused (409) once the terms' rounds are used up."""
        return await self._review(collab_id, Action.REQUEST_CHANGES, actor, comment)

    async def _review(self, collab_id: UUID, action: Action, actor: Actor | TransitionActor, comment: str, *,
                      approve_anyway: bool = False) -> StepResult:
        collab, who, now = await self._begin(collab_id, action, actor)
        errors: dict[str, str] = {}
        comment = clean_text(errors, "comment", comment, label=N_('Comment'), max_length=COMMENT_MAX,
                             required=action is Action.REQUEST_CHANGES)
        if errors:
            raise InvalidInput(errors)
        draft = await self._draft_under_review(collab)
        approved = action is Action.APPROVE_DRAFT
        extra: dict[str, Any] = {}
        if approved:
            gaps = caption_gaps(Terms.from_dict(collab.terms), draft.caption)
            if gaps and not approve_anyway:
                raise InvalidInput({"approve_anyway": gettext(
                    "The caption is missing %(gaps)s. Ask for changes, or tick “Approve anyway” to approve it as it "
                    "is.", gaps=gaps_in_words(gaps))})
            if gaps:
                extra = {"approved_anyway": True, "missing": [g.text for g in gaps]}
        draft.review = DraftReview.APPROVED if approved else DraftReview.CHANGES_REQUESTED
        draft.review_comment = comment or None
        draft.reviewed_at = now
        draft.reviewed_by_id = who.user_id
        result = await self._move(collab, action, who, now,
                                  {"draft_id": str(draft.id), "round": draft.round, "comment": comment, **extra})
        return StepResult(collab, result.event, draft)

    # -- the live post

    async def approve_post(self, collab_id: UUID, actor: Actor | TransitionActor, *, comment: str = ""
                           ) -> StepResult:
        """The brand approves the verified post: escrow releases the creator's fee (the review window's automatic
        approval does the same for brands who don't answer)."""
        collab, who, now = await self._begin(collab_id, Action.APPROVE_POST, actor)
        errors: dict[str, str] = {}
        comment = clean_text(errors, "comment", comment, label=N_('Comment'), max_length=COMMENT_MAX)
        if errors:
            raise InvalidInput(errors)
        result = await self._move(collab, Action.APPROVE_POST, who, now, {"comment": comment} if comment else {})
        return StepResult(collab, result.event)

    async def accept_post_by_hand(self, collab_id: UUID, actor: Actor | TransitionActor, *, note: str = ""
                                  ) -> StepResult:
        """Verification couldn't confirm the post (platform unreachable, checks inconclusive) or named checks that
        failed: the brand looked at the post itself and accepts it as delivered."""
        collab, who, now = await self._begin(collab_id, Action.MARK_VERIFIED, actor)
        errors: dict[str, str] = {}
        note = clean_text(errors, "note", note, label=N_('Note'), max_length=COMMENT_MAX)
        if errors:
            raise InvalidInput(errors)
        submission = await self.session.scalar(
            sa.select(PostSubmission).where(PostSubmission.collaboration_id == collab.id,
                                            PostSubmission.is_current.is_(True))
        )
        if submission is None or submission.verification_status not in {"needs_review", "failed"}:
            raise Conflict(
                gettext(
                    "PostPact is still checking this post; you can accept it by hand if the check needs your review "
                    "or fails."
                )
            )
        result = await self._move(collab, Action.MARK_VERIFIED, who, now, {
            "submission_id": str(submission.id), "by_hand": True,
            "verification_status": submission.verification_status, **({"note": note} if note else {}),
        })
        return StepResult(collab, result.event, submission)

    async def submit_post(self, collab_id: UUID, actor: Actor | TransitionActor, *, url: str) -> StepResult:
        """Store the live post's link (checked against the deal's platform); verification takes it from here."""
        collab, who, now = await self._begin(collab_id, Action.SUBMIT_POST, actor)
        errors: dict[str, str] = {}
        text = clean_text(errors, "url", url, label=N_('Post link'), max_length=URL_MAX, required=True)
        if errors:
            raise InvalidInput(errors)
        try:
            ref = parse_post_url(text)
        except InvalidPostUrl as exc:
            raise InvalidInput({"url": str(exc)}) from exc
        platform = str(collab.terms.get("platform", ""))
        if ref.platform.value != platform:
            wanted = Platform(platform).with_article if platform in {p.value for p in Platform} else f"a {platform}"
            raise InvalidInput({"url": gettext("This deal is for %(wanted)s post; that is %(with_article)s link.",
                                               wanted=wanted, with_article=ref.platform.with_article)})
        elsewhere = await self.session.scalar(
            sa.select(PostSubmission.id).where(
                PostSubmission.platform == ref.platform.value,
                PostSubmission.post_ref == ref.post_id,
                PostSubmission.collaboration_id != collab.id,
            ).limit(1)
        )
        if elsewhere is not None:
            raise InvalidInput(
                {"url": gettext("That post was already submitted for another deal; each deal needs its own post.")}
            )
        await self.session.execute(
            sa.update(PostSubmission)
            .where(PostSubmission.collaboration_id == collab.id, PostSubmission.is_current.is_(True))
            .values(is_current=False)
        )
        submission = PostSubmission(collaboration_id=collab.id, url=ref.canonical_url, platform=ref.platform.value,
                                    post_ref=ref.post_id, submitted_by_id=who.user_id, is_current=True,
                                    created_at=now, updated_at=now)
        self.session.add(submission)
        await self.session.flush()
        result = await self._move(collab, Action.SUBMIT_POST, who, now,
                                  {"submission_id": str(submission.id), "url": ref.canonical_url})
        return StepResult(collab, result.event, submission)
