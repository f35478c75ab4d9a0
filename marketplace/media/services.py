"""Uploading and showing marketplace pictures: creator photos and portfolios, brand logos, gig product images."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.brands.models import Brand
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator
from marketplace.errors import InvalidInput, NotFound
from marketplace.forms import clean_text, clean_url
from marketplace.gigs.models import Gig
from marketplace.i18n import N_, gettext
from marketplace.media.images import ImageRejected, process_image
from marketplace.media.models import PortfolioItem
from marketplace.runtime import Runtime
from marketplace.storage import StorageError, media_url, storage_of

#: Deals whose post was verified: they show on the creator's portfolio as "verified on PostPact".
VERIFIED_STATES = (CollabState.VERIFIED, CollabState.RELEASED, CollabState.COMPLETED)
PORTFOLIO_LIMIT = 24


@dataclass(frozen=True)
class PortfolioEntry:
    title: str
    post_url: str | None
    image_url: str | None
    verified: bool
    item_id: UUID | None = None


class MediaService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings.storage

    def url(self, key: str | None) -> str | None:
        return media_url(key, self.settings.media_public_url)

    async def _store(self, field: str, kind: str, prefix: str, data: bytes) -> str:
        """Resize and store; the key is derived from the picture's bytes, so storing it twice changes nothing."""
        try:
            image = process_image(data, kind, max_bytes=self.settings.max_image_bytes)
        except ImageRejected as exc:
            raise InvalidInput({field: gettext(exc.message)}) from exc
        key = f"{prefix}/{kind}-{image.digest}.webp"
        try:
            await storage_of(self.runtime).put(key, image.data, image.content_type)
        except StorageError as exc:
            raise InvalidInput({field: gettext("The picture couldn't be stored just now; please try again.")}) from exc
        return key

    async def set_creator_photo(self, actor: Actor, data: bytes) -> str:
        creator = await self.session.get(Creator, actor.creator_id, with_for_update=True)
        if creator is None:
            raise NotFound(N_("Creator profile not found."))
        creator.photo_key = await self._store("photo", "photo", f"creators/{creator.id.hex}", data)
        return creator.photo_key

    async def set_brand_logo(self, actor: Actor, data: bytes) -> str:
        brand = await self.session.get(Brand, actor.brand_id, with_for_update=True)
        if brand is None:
            raise NotFound(N_("Brand not found."))
        brand.logo_key = await self._store("logo", "logo", f"brands/{brand.id.hex}", data)
        return brand.logo_key

    async def brand_gig(self, actor: Actor, gig_id: UUID) -> Gig:
        """A gig of the actor's own brand; another brand's gig is 'not found' (never 'forbidden': it says nothing)."""
        gig = await self.session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
        if gig is None:
            raise NotFound(N_("Gig not found."))
        return gig

    async def set_gig_image(self, actor: Actor, gig_id: UUID, data: bytes) -> str:
        gig = await self.brand_gig(actor, gig_id)
        gig.product_image_key = await self._store("image", "product", f"gigs/{gig.id.hex}", data)
        return gig.product_image_key

    async def add_portfolio_item(self, actor: Actor, *, title: str, post_url: str, data: bytes | None) -> PortfolioItem:
        errors: dict[str, str] = {}
        title = clean_text(errors, "title", title, label=N_("Title"), max_length=200)
        url = clean_url(errors, "post_url", post_url, label=N_("Link to the post"), required=False)
        if not url and not data and "post_url" not in errors:
            errors["post_url"] = gettext("Add a link to the post, a picture, or both.")
        count = await self.session.scalar(
            sa.select(sa.func.count()).select_from(PortfolioItem).where(PortfolioItem.creator_id == actor.creator_id))
        if (count or 0) >= PORTFOLIO_LIMIT:
            errors["form"] = gettext("A portfolio holds up to %(limit)s items; remove one first.",
                                     limit=PORTFOLIO_LIMIT)
        if errors:
            raise InvalidInput(errors)
        key = await self._store("image", "portfolio", f"portfolio/{actor.creator_id.hex}", data) if data else None
        item = PortfolioItem(creator_id=actor.creator_id, title=title, post_url=url, image_key=key,
                             position=int(count or 0))
        self.session.add(item)
        await self.session.flush()
        return item

    async def remove_portfolio_item(self, actor: Actor, item_id: UUID) -> None:
        item = await self.session.scalar(sa.select(PortfolioItem).where(
            PortfolioItem.id == item_id, PortfolioItem.creator_id == actor.creator_id))
        if item is None:
            raise NotFound(N_("Portfolio item not found."))
        await self.session.delete(item)

    async def previews(self, creator_ids: list[UUID], per_creator: int = 3) -> dict[UUID, list[PortfolioEntry]]:
        """A few portfolio entries per creator for directory cards: two queries for the whole page, not one each."""
        found: dict[UUID, list[PortfolioEntry]] = {cid: [] for cid in creator_ids}
        if not creator_ids:
            return found
        verified = (await self.session.execute(
            sa.select(Collaboration.creator_id, PostSubmission.url, Gig.title, Gig.product_image_key)
            .join(Collaboration, Collaboration.id == PostSubmission.collaboration_id)
            .join(Gig, Gig.id == Collaboration.gig_id)
            .where(Collaboration.creator_id.in_(creator_ids), Collaboration.status.in_(VERIFIED_STATES),
                   PostSubmission.is_current.is_(True))
            .order_by(Collaboration.verified_at.desc().nulls_last(), Collaboration.id)
        )).all()
        for cid, url, title, image in verified:
            if len(found[cid]) < per_creator:
                found[cid].append(PortfolioEntry(title, url, self.url(image), True))
        items = (await self.session.scalars(
            sa.select(PortfolioItem).where(PortfolioItem.creator_id.in_(creator_ids))
            .order_by(PortfolioItem.position, PortfolioItem.created_at)
        )).all()
        for i in items:
            if len(found[i.creator_id]) < per_creator:
                found[i.creator_id].append(PortfolioEntry(i.title, i.post_url, self.url(i.image_key),
                                                          i.collaboration_id is not None, i.id))
        return found

    async def portfolio(self, creator_id: UUID) -> list[PortfolioEntry]:
        """The creator's verified PostPact posts first (newest first), then what they added themselves."""
        verified = (await self.session.execute(
            sa.select(PostSubmission.url, Gig.title, Gig.product_image_key)
            .join(Collaboration, Collaboration.id == PostSubmission.collaboration_id)
            .join(Gig, Gig.id == Collaboration.gig_id)
            .where(Collaboration.creator_id == creator_id, Collaboration.status.in_(VERIFIED_STATES),
                   PostSubmission.is_current.is_(True))
            .order_by(Collaboration.verified_at.desc().nulls_last(), Collaboration.id)
            .limit(PORTFOLIO_LIMIT)
        )).all()
        items = (await self.session.scalars(
            sa.select(PortfolioItem).where(PortfolioItem.creator_id == creator_id)
            .order_by(PortfolioItem.position, PortfolioItem.created_at)
        )).all()
        entries = [PortfolioEntry(title, url, self.url(image), True) for url, title, image in verified]
        entries += [PortfolioEntry(i.title, i.post_url, self.url(i.image_key), i.collaboration_id is not None, i.id)
                    for i in items]
        return entries
