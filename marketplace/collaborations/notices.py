"""Telling the other side of a deal what its step did (in-app notification and email, after commit).

Every title and body is an ``i18n.Message``: the in-app notice is written in each reader's language and zone, and
the email is queued as message id + parameters and written at delivery (``mail.queue_notice_emails``), so a step
over hundreds of deals renders no email.

``DealNoticesListener`` reads every transition and sends the notice of the steps brands and creators take; the steps
PostPact takes itself (ghosting, automatic approval, verification) are announced by the jobs that take them, with
the deadline or check that explains them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration, DraftReview
from marketplace.collaborations.states import DEAL_ROLES, Action, Party, TransitionActor
from marketplace.collaborations.transition import Change
from marketplace.creators.models import Creator
from marketplace.i18n import N_, Message
from marketplace.notifications.services import Notice, brand_user_ids, creator_user_id, notify, notify_many

#: Everyone on the brand's team hears about money-related steps (finance funds the escrow).
ALL_BRAND_ROLES: frozenset[BrandRole] = frozenset(BrandRole)


_ENDINGS = frozenset({Action.CANCEL, Action.CANCEL_NO_SHOW, Action.DECLINE_OFFER, Action.WITHDRAW_OFFER})


class DealNoticesListener:
    def __init__(self, *, public_url: str) -> None:
        self.public_url = public_url

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        await self._announce(DealNotices(session, public_url=self.public_url), change)

    async def after_transitions(self, session: AsyncSession, changes: Sequence[Change]) -> None:
        """A batch (a bulk step): the same notices, with the creators' accounts read in one query and every
        notification and email written together."""
        notices = DealNotices(session, public_url=self.public_url, collect=True)
        await notices.know_creators({change.collaboration.creator_id for change in changes})
        for change in changes:
            await self._announce(notices, change)
        await notices.send_collected()

    async def _announce(self, notices: DealNotices, change: Change) -> None:
        collab, who, action, said = change.collaboration, change.actor, change.action, change.payload
        text = str(said.get("reason") or said.get("comment") or said.get("note") or "")
        if action is Action.SIGN:
            await notices.signed(collab, who)
        elif action in _ENDINGS:
            await notices.ended(collab, who, action, text)
        elif action is Action.SHIP:
            await notices.shipped(collab, who, str(said.get("carrier", "")), str(said.get("tracking_number", "")))
        elif action is Action.CONFIRM_RECEIPT:
            await notices.received(collab, who)
        elif action is Action.REPORT_PROBLEM:
            await notices.problem_reported(collab, who, str(said.get("problem", "")))
        elif action is Action.SUBMIT_DRAFT:
            await notices.draft_submitted(collab, who, int(said.get("round", 1)))
        elif action in (Action.APPROVE_DRAFT, Action.REQUEST_CHANGES):
            await notices.reviewed(collab, who, approved=action is Action.APPROVE_DRAFT, comment=text)
        elif action is Action.SUBMIT_POST:
            await notices.post_submitted(collab, who, str(said.get("url", "")))
        elif action is Action.APPROVE_POST and who.party is Party.BRAND:
            await notices.post_approved(collab, who, text)
        elif action is Action.MARK_VERIFIED and said.get("by_hand"):
            await notices.post_accepted_by_hand(collab, who, text)


class DealNotices:
    def __init__(self, session: AsyncSession, *, public_url: str, collect: bool = False) -> None:
        self.session = session
        self.public_url = public_url
        #: With ``collect``, notices wait here for ``send_collected`` (one write for a batch of deals).
        self._collected: list[Notice] | None = [] if collect else None
        self._creator_users: dict[UUID, UUID | None] = {}
        self._brand_users: dict[tuple[UUID, frozenset[BrandRole]], list[UUID]] = {}

    async def _send(self, user_ids: Iterable[UUID], collab: Collaboration, actor: TransitionActor, kind: str,
                    title: str | Message, body: str | Message) -> None:
        """``title``/``body`` as ``i18n.Message`` are written in each recipient's language and time zone."""
        recipients = [uid for uid in user_ids if uid != actor.user_id]
        if self._collected is not None:
            link = f"/collaborations/{collab.id}"
            self._collected.append(Notice(tuple(recipients), f"deal.{kind}", title, body, link))
            return
        await notify(self.session, recipients, kind=f"deal.{kind}", title=title, body=body,
                     link=f"/collaborations/{collab.id}", email_template="notification", email_at_delivery=True,
                     public_url=self.public_url)

    async def send_collected(self) -> None:
        if self._collected:
            await notify_many(self.session, self._collected, email_template="notification",
                              public_url=self.public_url)
            self._collected.clear()

    async def know_creators(self, creator_ids: Iterable[UUID]) -> None:
        """Read the accounts of these creators in one query (a batch's notices then need no query each)."""
        ids = [cid for cid in creator_ids if cid not in self._creator_users]
        if ids:
            rows = await self.session.execute(sa.select(Creator.id, Creator.user_id).where(Creator.id.in_(ids)))
            self._creator_users.update(dict.fromkeys(ids))
            self._creator_users.update({cid: uid for cid, uid in rows})

    async def _brand(self, collab: Collaboration, roles: Iterable[BrandRole] = DEAL_ROLES) -> list[UUID]:
        key = (collab.brand_id, frozenset(roles))
        if key not in self._brand_users:
            self._brand_users[key] = await brand_user_ids(self.session, collab.brand_id, roles=key[1])
        return self._brand_users[key]

    async def _creator(self, collab: Collaboration) -> list[UUID]:
        if collab.creator_id not in self._creator_users:
            self._creator_users[collab.creator_id] = await creator_user_id(self.session, collab.creator_id)
        user_id = self._creator_users[collab.creator_id]
        return [user_id] if user_id else []

    @staticmethod
    def _names(collab: Collaboration) -> tuple[str | Message, str | Message, str | Message]:
        terms = collab.terms
        return (terms.get("gig_title") or Message(N_("your deal")), terms.get("brand_name") or Message(N_("The brand")),
                terms.get("creator_display_name") or Message(N_("The creator")))

    async def signed(self, collab: Collaboration, actor: TransitionActor) -> None:
        gig, _, creator = self._names(collab)
        await self._send(await self._brand(collab, ALL_BRAND_ROLES), collab, actor, "signed",
                         Message(N_("%(creator)s signed the deal for “%(gig)s”"), creator=creator, gig=gig),
                         Message(N_("Fund the escrow so the deal can start; the creator is paid only when the post "
                                    "is verified.")))

    async def ended(self, collab: Collaboration, actor: TransitionActor, action: Action, reason: str) -> None:
        gig, brand, creator = self._names(collab)

        def with_reason(body: Message) -> Message:
            return Message(N_("%(text)s\n\nReason given: %(reason)s"), text=body, reason=reason) if reason else body

        if action is Action.DECLINE_OFFER:
            await self._send(await self._brand(collab), collab, actor, "declined",
                             Message(N_("%(creator)s declined the offer for “%(gig)s”"), creator=creator, gig=gig),
                             with_reason(Message(N_("The slot is free again."))))
            return
        if action is Action.WITHDRAW_OFFER:
            await self._send(await self._creator(collab), collab, actor, "withdrawn",
                             Message(N_("%(brand)s withdrew the offer for “%(gig)s”"), brand=brand, gig=gig),
                             with_reason(Message(N_("Nothing is needed from you."))))
            return
        who = {Party.BRAND: brand, Party.CREATOR: creator}.get(actor.party, "PostPact")
        recipients = [*await self._brand(collab, ALL_BRAND_ROLES), *await self._creator(collab)]
        body = (Message(N_("Any escrowed money goes back to the brand.")) if collab.funded_at
                else Message(N_("No money had been paid.")))
        await self._send(recipients, collab, actor, "cancelled",
                         Message(N_("%(who)s cancelled the deal for “%(gig)s”"), who=who, gig=gig), with_reason(body))

    async def shipped(self, collab: Collaboration, actor: TransitionActor, carrier: str, tracking_number: str) -> None:
        gig, brand, _ = self._names(collab)
        await self._send(await self._creator(collab), collab, actor, "shipped",
                         Message(N_("%(brand)s shipped your product for “%(gig)s”"), brand=brand, gig=gig),
                         Message(N_("Carrier: %(carrier)s, tracking number %(tracking_number)s. Confirm receipt when "
                                    "it arrives, or report a problem."), carrier=carrier,
                                 tracking_number=tracking_number))

    async def received(self, collab: Collaboration, actor: TransitionActor) -> None:
        gig, _, creator = self._names(collab)
        await self._send(await self._brand(collab), collab, actor, "received",
                         Message(N_("%(creator)s received the product for “%(gig)s”"), creator=creator, gig=gig),
                         Message(N_("The draft is next.")))

    async def problem_reported(self, collab: Collaboration, actor: TransitionActor, problem: str) -> None:
        gig, _, creator = self._names(collab)
        await self._send(await self._brand(collab), collab, actor, "shipping_problem",
                         Message(N_("%(creator)s reported a delivery problem on “%(gig)s”"), creator=creator, gig=gig),
                         problem)

    async def draft_submitted(self, collab: Collaboration, actor: TransitionActor, round_: int) -> None:
        gig, _, creator = self._names(collab)
        await self._send(await self._brand(collab), collab, actor, "draft_submitted",
                         Message(N_("%(creator)s submitted draft %(round)s for “%(gig)s”"), creator=creator,
                                 round=round_, gig=gig),
                         Message(N_("Review it: approve it, or request changes within the agreed rounds.")))

    async def reviewed(self, collab: Collaboration, actor: TransitionActor, *, approved: bool, comment: str) -> None:
        gig, brand, _ = self._names(collab)
        title: Message
        body: str | Message
        if approved:
            title = Message(N_("%(brand)s approved your draft for “%(gig)s”"), brand=brand, gig=gig)
            body = Message(N_("Publish it and submit the live post's link."))
        else:
            title = Message(N_("%(brand)s asked for changes to your draft for “%(gig)s”"), brand=brand, gig=gig)
            body = comment
        kind = f"draft_{DraftReview.APPROVED.value if approved else DraftReview.CHANGES_REQUESTED.value}"
        await self._send(await self._creator(collab), collab, actor, kind, title, body)

    async def post_submitted(self, collab: Collaboration, actor: TransitionActor, url: str) -> None:
        gig, _, creator = self._names(collab)
        await self._send(await self._brand(collab), collab, actor, "post_submitted",
                         Message(N_("%(creator)s published the post for “%(gig)s”"), creator=creator, gig=gig),
                         Message(N_("%(url)s\n\nPostPact checks the post before the payment is released."), url=url))

    async def post_approved(self, collab: Collaboration, actor: TransitionActor, comment: str) -> None:
        gig, brand, _ = self._names(collab)
        body = Message(N_("PostPact is releasing your fee from escrow. If you haven't set up payouts yet, do it now "
                          "and the payment goes out as soon as you're ready."))
        if comment:
            body = Message(N_("%(text)s\n\nTheir note: %(note)s"), text=body, note=comment)
        await self._send(await self._creator(collab), collab, actor, "post_approved",
                         Message(N_("%(brand)s approved your post for “%(gig)s”: payment is on its way"), brand=brand,
                                 gig=gig), body)

    async def post_accepted_by_hand(self, collab: Collaboration, actor: TransitionActor, note: str) -> None:
        gig, brand, _ = self._names(collab)
        body = Message(N_("PostPact couldn't confirm every check automatically, so the brand reviewed the post itself "
                          "and accepted it. Payment follows the brand's approval."))
        if note:
            body = Message(N_("%(text)s\n\nTheir note: %(note)s"), text=body, note=note)
        await self._send(await self._creator(collab), collab, actor, "post_verified",
                         Message(N_("%(brand)s checked your post for “%(gig)s” and accepted it"), brand=brand, gig=gig),
                         body)
