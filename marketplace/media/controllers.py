"""Pages for marketplace pictures, and /media/ that serves stored pictures (whichever storage holds them)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, creator_only
from marketplace.brands.models import Brand, BrandRole
from marketplace.creators.models import Creator
from marketplace.errors import InvalidInput, NotFound
from marketplace.i18n import N_, gettext
from marketplace.media.services import MediaService
from marketplace.storage import StorageError, storage_of, valid_key
from marketplace.web import PageController, flash, redirect, render, runtime_of


def provide_media(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> MediaService:
    return MediaService(db_session, runtime_of(request))


async def _picture(request: Request[Any, Any, Any], name: str, limit: int) -> bytes | None:
    form = await request.form()
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(limit + 1)  # one byte over the limit is enough to refuse it


class MediaPages(PageController):
    dependencies = {"media": Provide(provide_media, sync_to_thread=False)}

    @get("/media/{key:path}", name="media")
    async def serve(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[bytes]:
        key = key.lstrip("/")
        if not valid_key(key):
            raise NotFound(N_("Picture not found."))
        try:
            stored = await storage_of(runtime_of(request)).get(key)
        except StorageError as exc:
            raise NotFound(N_("Picture not found.")) from exc
        if stored is None:
            raise NotFound(N_("Picture not found."))
        # Keys are content hashes: the bytes behind one never change.
        return Response(stored.data, media_type=stored.content_type,
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})

    # --- creators ------------------------------------------------------------------------------------------------

    @get("/creator/portfolio", guards=[creator_only], name="creator_portfolio")
    async def portfolio_page(self, request: Request[Any, Any, Any], media: NamedDependency[MediaService]) -> \
            Response[Any]:
        return await self._portfolio(request, media, {}, {})

    async def _portfolio(self, request: Request[Any, Any, Any], media: MediaService, errors: dict[str, str],
                         form: dict[str, Any], status_code: int = 200) -> Response[Any]:
        actor: Actor = request.user
        creator = await media.session.get(Creator, actor.creator_id)
        context = {"creator": creator, "photo_url": media.url(creator.photo_key if creator else None),
                   "entries": await media.portfolio(actor.creator_id), "errors": errors, "form": form}
        return render(request, "media/portfolio.html", context, status_code=status_code)

    @post("/creator/photo", guards=[creator_only])
    async def upload_photo(self, request: Request[Any, Any, Any], media: NamedDependency[MediaService]) -> \
            Response[Any]:
        data = await _picture(request, "photo", media.settings.max_image_bytes)
        try:
            await media.set_creator_photo(request.user, data or b"")
        except InvalidInput as exc:
            return await self._portfolio(request, media, exc.errors, {}, status_code=422)
        flash(request, gettext("Photo updated."))
        return redirect(request, "/creator/portfolio")

    @post("/creator/portfolio", guards=[creator_only])
    async def add_item(self, request: Request[Any, Any, Any], media: NamedDependency[MediaService]) -> Response[Any]:
        form = await request.form()
        data = await _picture(request, "image", media.settings.max_image_bytes)
        values = {"title": str(form.get("title") or ""), "post_url": str(form.get("post_url") or "")}
        try:
            await media.add_portfolio_item(request.user, title=values["title"], post_url=values["post_url"],
                                           data=data)
        except InvalidInput as exc:
            return await self._portfolio(request, media, exc.errors, values, status_code=422)
        flash(request, gettext("Added to your portfolio."))
        return redirect(request, "/creator/portfolio")

    @post("/creator/portfolio/{item_id:uuid}/delete", guards=[creator_only])
    async def remove_item(self, request: Request[Any, Any, Any], item_id: FromPath[UUID],
                          media: NamedDependency[MediaService]) -> Response[Any]:
        await media.remove_portfolio_item(request.user, item_id)
        flash(request, gettext("Removed from your portfolio."))
        return redirect(request, "/creator/portfolio")

    # --- brands --------------------------------------------------------------------------------------------------

    @get("/brand/logo", guards=[brand_member(BrandRole.MANAGER)], name="brand_logo")
    async def logo_page(self, request: Request[Any, Any, Any], media: NamedDependency[MediaService]) -> Response[Any]:
        return await self._logo(request, media, {})

    async def _logo(self, request: Request[Any, Any, Any], media: MediaService, errors: dict[str, str],
                    status_code: int = 200) -> Response[Any]:
        brand = await media.session.get(Brand, request.user.brand_id)
        return render(request, "media/brand_logo.html",
                      {"brand": brand, "logo_url": media.url(brand.logo_key if brand else None), "errors": errors},
                      status_code=status_code)

    @post("/brand/logo", guards=[brand_member(BrandRole.MANAGER)])
    async def upload_logo(self, request: Request[Any, Any, Any], media: NamedDependency[MediaService]) -> \
            Response[Any]:
        data = await _picture(request, "logo", media.settings.max_image_bytes)
        try:
            await media.set_brand_logo(request.user, data or b"")
        except InvalidInput as exc:
            return await self._logo(request, media, exc.errors, status_code=422)
        flash(request, gettext("Logo updated."))
        return redirect(request, "/brand/logo")

    @get("/brand/gigs/{gig_id:uuid}/image", guards=[brand_member(BrandRole.MANAGER)], name="gig_image")
    async def gig_image_page(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                             media: NamedDependency[MediaService]) -> Response[Any]:
        return await self._gig_image(request, media, gig_id, {})

    async def _gig_image(self, request: Request[Any, Any, Any], media: MediaService, gig_id: UUID,
                         errors: dict[str, str], status_code: int = 200) -> Response[Any]:
        gig = await media.brand_gig(request.user, gig_id)
        image_url = media.url(gig.product_image_key) or gig.product_image_url
        return render(request, "media/gig_image.html", {"gig": gig, "image_url": image_url, "errors": errors},
                      status_code=status_code)

    @post("/brand/gigs/{gig_id:uuid}/image", guards=[brand_member(BrandRole.MANAGER)])
    async def upload_gig_image(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                               media: NamedDependency[MediaService]) -> Response[Any]:
        data = await _picture(request, "image", media.settings.max_image_bytes)
        try:
            await media.set_gig_image(request.user, gig_id, data or b"")
        except InvalidInput as exc:
            return await self._gig_image(request, media, gig_id, exc.errors, status_code=422)
        flash(request, gettext("Product image updated."))
        return redirect(request, f"/brand/gigs/{gig_id}/image")


ROUTES: list[Any] = [MediaPages]
