"""Brand organisations: the profile, the team (owners manage it by signed, expiring email invitations) and the
brand's private notes on creators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import Brand, BrandInvitation, BrandMember, BrandRole, CreatorNote
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.forms import normalise_email, valid_email
from marketplace.gigs.validation import Checker
from marketplace.i18n import N_, gettext
from marketplace.notifications.mail import send_email
from marketplace.runtime import Runtime
from marketplace.security import password_problems

INVITE_PURPOSE = "team-invite"
INVITE_LIFETIME = timedelta(days=7)
PROFILE_EDITORS = frozenset({BrandRole.OWNER, BrandRole.MANAGER})
NOTE_WRITERS = frozenset({BrandRole.OWNER, BrandRole.MANAGER})
BAD_INVITE = "This invitation link is invalid, was already used, or has expired. Ask the brand owner for a new one."


def member_of(actor: Actor | None, roles: frozenset[BrandRole] | None = None) -> UUID:
    """The actor's brand; other people are refused, and so are members whose role is not in ``roles``."""
    if actor is None or not actor.is_brand or actor.brand_id is None:
        raise Forbidden(gettext('This is for brand teams.'))
    if roles is not None and actor.brand_role not in roles:
        raise Forbidden(
            gettext("Your role can't do this (needs: %(roles)s).", roles=", ".join(sorted(r.value for r in roles)))
        )
    return actor.brand_id


@dataclass
class TeamMember:
    member: BrandMember
    email: str
    full_name: str


@dataclass
class Team:
    brand: Brand
    members: list[TeamMember]
    invitations: list[BrandInvitation]


@dataclass
class PendingInvitation:
    invitation: BrandInvitation
    brand: Brand
    #: The account already registered under the invited email, if any.
    existing_user: User | None


class BrandService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    @property
    def now(self) -> Any:
        return self.runtime.clock.now()

    async def brand(self, actor: Actor | None) -> Brand:
        brand = await self.session.get(Brand, member_of(actor))
        if brand is None:
            raise NotFound(gettext('No such brand.'))
        return brand

    async def update_profile(self, actor: Actor | None, raw: Mapping[str, Any]) -> Brand:
        brand_id = member_of(actor, PROFILE_EDITORS)
        c = Checker()
        name = c.text("name", raw.get("name"), label=N_('Brand name'), max_length=120, required=True)
        website = c.url("website", raw.get("website"), label=N_('Website'))
        country = c.country("country", raw.get("country"))
        description = c.text("description", raw.get("description"), label=N_('Description'), max_length=5000,
                             single_line=False)
        c.raise_if_invalid()
        brand = await self.session.get(Brand, brand_id, with_for_update=True)
        if brand is None:
            raise NotFound(gettext('No such brand.'))
        brand.name, brand.website, brand.country, brand.description = name, website, country, description
        await self.session.flush()
        return brand

    # --- team ------------------------------------------------------------------------------------------------

    async def team(self, actor: Actor | None) -> Team:
        brand = await self.brand(actor)
        rows = await self.session.execute(
            sa.select(BrandMember, User.email, User.full_name).join(User, User.id == BrandMember.user_id)
            .where(BrandMember.brand_id == brand.id).order_by(BrandMember.created_at)
        )
        members = [TeamMember(m, email, name) for m, email, name in rows]
        invitations = list(await self.session.scalars(
            sa.select(BrandInvitation).where(
                BrandInvitation.brand_id == brand.id, BrandInvitation.accepted_at.is_(None),
                BrandInvitation.revoked_at.is_(None), BrandInvitation.expires_at > self.now,
            ).order_by(BrandInvitation.created_at.desc())
        ))
        return Team(brand, members, invitations)

    async def invite_member(self, actor: Actor | None, email: str, role: object) -> tuple[BrandInvitation, str]:
        """Email a signed link that expires in 7 days; a new invitation to the same address replaces the old one.

        Returns the invitation and its link. Whether the address already has an account is not revealed here.
        """
        brand_id = member_of(actor, frozenset({BrandRole.OWNER}))
        assert actor is not None
        c = Checker()
        email = normalise_email(c.text("email", email, label=N_('Email'), max_length=320, required=True))
        if email and not valid_email(email):
            c.error("email", gettext('Enter a valid email address, like name@example.com.'))
        chosen = c.choice("role", role, BrandRole, label=N_('Role'))
        c.raise_if_invalid()
        assert chosen is not None
        already = await self.session.scalar(
            sa.select(BrandMember.id).join(User, User.id == BrandMember.user_id)
            .where(BrandMember.brand_id == brand_id, User.email == email)
        )
        if already is not None:
            raise InvalidInput({"email": gettext('This person is already on your team.')})
        now = self.now
        await self.session.execute(
            sa.update(BrandInvitation).where(
                BrandInvitation.brand_id == brand_id, BrandInvitation.email == email,
                BrandInvitation.accepted_at.is_(None), BrandInvitation.revoked_at.is_(None),
            ).values(revoked_at=now)
        )
        invitation = BrandInvitation(brand_id=brand_id, email=email, role=chosen, invited_by_id=actor.user_id,
                                     expires_at=now + INVITE_LIFETIME)
        self.session.add(invitation)
        await self.session.flush()
        token = self.runtime.signer.dumps(INVITE_PURPOSE, {"i": str(invitation.id), "b": str(brand_id)})
        link = f"{self.runtime.settings.app.public_url}/team/join/{token}"
        brand = await self.session.get(Brand, brand_id)
        assert brand is not None
        await send_email(self.session, email, "team_invitation", category="team", brand=brand, role=chosen.value,
                         inviter=actor.name, link=link, days=INVITE_LIFETIME.days)
        return invitation, link

    async def revoke_invitation(self, actor: Actor | None, invitation_id: UUID) -> None:
        brand_id = member_of(actor, frozenset({BrandRole.OWNER}))
        invitation = await self.session.scalar(
            sa.select(BrandInvitation).where(BrandInvitation.id == invitation_id, BrandInvitation.brand_id == brand_id)
            .with_for_update()
        )
        if invitation is None:
            raise NotFound(gettext('No such invitation.'))
        if invitation.accepted_at is not None:
            raise Conflict(gettext('This invitation was already accepted.'))
        invitation.revoked_at = invitation.revoked_at or self.now

    async def _owner_count(self, brand_id: UUID) -> int:
        return int(await self.session.scalar(
            sa.select(sa.func.count(BrandMember.id)).where(BrandMember.brand_id == brand_id,
                                                          BrandMember.role == BrandRole.OWNER)
        ) or 0)

    async def _member(self, brand_id: UUID, member_id: UUID) -> BrandMember:
        # Locking every member row of the brand serialises team changes, so two owners can't demote each other
        # at once and leave the brand without an owner.
        members = {m.id: m for m in await self.session.scalars(
            sa.select(BrandMember).where(BrandMember.brand_id == brand_id).with_for_update()
        )}
        if member_id not in members:
            raise NotFound(gettext('No such team member.'))
        return members[member_id]

    async def change_role(self, actor: Actor | None, member_id: UUID, role: object) -> BrandMember:
        brand_id = member_of(actor, frozenset({BrandRole.OWNER}))
        c = Checker()
        chosen = c.choice("role", role, BrandRole, label=N_('Role'))
        c.raise_if_invalid()
        member = await self._member(brand_id, member_id)
        if member.role is BrandRole.OWNER and chosen is not BrandRole.OWNER and await self._owner_count(brand_id) <= 1:
            raise Conflict(gettext('A brand needs at least one owner; make someone else an owner first.'))
        member.role = chosen  # type: ignore[assignment]
        return member

    async def remove_member(self, actor: Actor | None, member_id: UUID) -> None:
        brand_id = member_of(actor, frozenset({BrandRole.OWNER}))
        member = await self._member(brand_id, member_id)
        if member.role is BrandRole.OWNER and await self._owner_count(brand_id) <= 1:
            raise Conflict(gettext('A brand needs at least one owner; make someone else an owner first.'))
        await self.session.delete(member)
        await self.session.flush()

    # --- joining by invitation -------------------------------------------------------------------------------

    async def pending_invitation(self, token: str, *, lock: bool = False) -> PendingInvitation:
        payload = self.runtime.signer.loads(INVITE_PURPOSE, token, int(INVITE_LIFETIME.total_seconds()))
        invalid = InvalidInput({"token": BAD_INVITE}, message=BAD_INVITE)
        if payload is None:
            raise invalid
        try:
            invitation_id, brand_id = UUID(str(payload["i"])), UUID(str(payload["b"]))
        except (KeyError, ValueError) as exc:
            raise invalid from exc
        query = sa.select(BrandInvitation).where(BrandInvitation.id == invitation_id,
                                                 BrandInvitation.brand_id == brand_id)
        invitation = await self.session.scalar(query.with_for_update() if lock else query)
        if (
            invitation is None or invitation.accepted_at is not None or invitation.revoked_at is not None
            or as_utc(invitation.expires_at) <= self.now
        ):
            raise invalid
        brand = await self.session.get(Brand, brand_id)
        if brand is None:
            raise invalid
        user = await self.session.scalar(sa.select(User).where(User.email == invitation.email))
        return PendingInvitation(invitation, brand, user)

    async def why_user_cannot_join(self, user: User, brand_id: UUID) -> str | None:
        if user.kind is not UserKind.BRAND:
            return ("This email belongs to a creator account; a PostPact account is either a creator or a brand "
                    "team member. Ask the owner to invite another address.")
        current = await self.session.scalar(sa.select(BrandMember.brand_id).where(BrandMember.user_id == user.id))
        if current == brand_id:
            return "You are already on this team."
        if current is not None:
            return ("Your account already belongs to another brand's team (an account works for one brand). "
                    "Ask the owner to invite another address.")
        has_creator = await self.session.scalar(sa.select(Creator.id).where(Creator.user_id == user.id))
        return "This account can't join a brand team." if has_creator else None

    async def accept_as(self, token: str, actor: Actor | None) -> BrandMember:
        """A signed-in person accepts: only with the invited email, and only if the account can join a team."""
        pending = await self.pending_invitation(token, lock=True)
        if actor is None:
            raise Forbidden(gettext('Sign in first.'))
        if actor.email != pending.invitation.email:
            raise Forbidden(
                gettext("This invitation is for %(email)s; sign in with that address.", email=pending.invitation.email)
            )
        user = await self.session.get(User, actor.user_id)
        assert user is not None
        problem = await self.why_user_cannot_join(user, pending.brand.id)
        if problem:
            raise Conflict(problem)
        return await self._join(pending, user)

    async def accept_with_new_account(self, token: str, full_name: str, password: str) -> tuple[BrandMember, User]:
        """Someone without an account accepts: the account is created for the invited email."""
        pending = await self.pending_invitation(token, lock=True)
        if pending.existing_user is not None:
            raise Conflict(gettext('An account with this email exists; sign in to accept the invitation.'))
        c = Checker()
        name = c.text("full_name", full_name, label=N_('Your name'), max_length=120, required=True)
        if not isinstance(password, str) or c.text("password", password, label=N_('Password'), max_length=10_000) == "":
            c.error("password", gettext('Password is required.'))
        else:
            problems = password_problems(password, email=pending.invitation.email)
            if problems:
                c.error("password", " ".join(problems))
        c.raise_if_invalid()
        user = User(email=pending.invitation.email, password_hash=self.runtime.passwords.hash(password),
                    kind=UserKind.BRAND, full_name=name)
        try:
            async with self.session.begin_nested():
                self.session.add(user)
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(gettext('An account with this email exists; sign in to accept the invitation.')) from exc
        return await self._join(pending, user), user

    async def _join(self, pending: PendingInvitation, user: User) -> BrandMember:
        member = BrandMember(brand_id=pending.brand.id, user_id=user.id, role=pending.invitation.role)
        self.session.add(member)
        pending.invitation.accepted_at = self.now
        pending.invitation.accepted_user_id = user.id
        await self.session.flush()
        return member

    # --- private notes ---------------------------------------------------------------------------------------

    async def notes(self, actor: Actor | None, creator_id: UUID) -> list[CreatorNote]:
        brand_id = member_of(actor)
        return list(await self.session.scalars(
            sa.select(CreatorNote).where(CreatorNote.brand_id == brand_id, CreatorNote.creator_id == creator_id)
            .order_by(CreatorNote.created_at.desc())
        ))

    async def add_note(self, actor: Actor | None, creator_id: UUID, body: object) -> CreatorNote:
        brand_id = member_of(actor, NOTE_WRITERS)
        assert actor is not None
        c = Checker()
        text = c.text("body", body, label=N_('Note'), max_length=5000, required=True, single_line=False)
        c.raise_if_invalid()
        if await self.session.get(Creator, creator_id) is None:
            raise NotFound(gettext('No such creator.'))
        note = CreatorNote(brand_id=brand_id, creator_id=creator_id, author_id=actor.user_id, body=text)
        self.session.add(note)
        await self.session.flush()
        return note

    async def delete_note(self, actor: Actor | None, note_id: UUID) -> CreatorNote:
        brand_id = member_of(actor, NOTE_WRITERS)
        note = await self.session.scalar(
            sa.select(CreatorNote).where(CreatorNote.id == note_id, CreatorNote.brand_id == brand_id)
        )
        if note is None:
            raise NotFound(gettext('No such note.'))
        await self.session.delete(note)
        await self.session.flush()
        return note
