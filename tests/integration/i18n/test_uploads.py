"""Marketplace pictures through the pages, the same suite on local files and on S3 (moto's server standing in)."""

from __future__ import annotations

import io
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from PIL import Image

from marketplace.brands.models import Brand
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator
from marketplace.gigs.models import Gig
from marketplace.media.models import PortfolioItem
from marketplace.storage import StorageError, build_storage, storage_of
from tests.support.deals import make_deal
from tests.support.marketplace import make_open_gig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a local port: a real HTTP S3 API, so the S3 path runs over the wire."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"], autouse=True)
def backend(request: pytest.FixtureRequest, test_env: dict[str, str]) -> dict[str, str]:
    """Every test here runs once per storage backend; the settings come from the environment as in production."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_server")
        bucket = f"postpact-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.create_bucket(Bucket=bucket)
        test_env.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint,
                         "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test"})
    return {"name": request.param, **test_env}


def picture(width: int = 2000, height: int = 1500, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 120)).save(out, fmt)
    return out.getvalue()


def _bucket_has(env: dict[str, str], key: str) -> bool:
    client = boto3.client("s3", endpoint_url=env["S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=env["S3_BUCKET"]).get("Contents", [])]
    return key in keys


async def _stored_where_expected(backend: dict[str, str], runtime: Any, key: str) -> None:
    if backend["name"] == "s3":
        assert _bucket_has(backend, key), "the picture is in the bucket"
        assert not (runtime.settings.storage.media_dir / key).exists()
    else:
        assert (runtime.settings.storage.media_dir / key).is_file()


async def test_creator_photo_is_resized_stored_and_served(web: Any, people: Any, db: Any, runtime: Any,
                                                          backend: dict[str, str]) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    response = await web.post("/creator/photo", files={"photo": ("me.png", picture(), "image/png")})
    assert response.status_code == 303, response.text[:500]
    key = await db.scalar(sa.select(Creator.photo_key).where(Creator.id == creator.creator_id))
    assert key and key.startswith(f"creators/{creator.creator_id.hex}/photo-") and key.endswith(".webp")
    await _stored_where_expected(backend, runtime, key)

    served = await web.get(f"/media/{key}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert "immutable" in served.headers["cache-control"]
    with Image.open(io.BytesIO(served.content)) as image:
        assert max(image.size) == 480 and image.size == (480, 360)

    page = await web.get("/creator/portfolio")
    assert f'src="/media/{key}"' in page.text


async def test_a_file_that_is_not_a_picture_is_refused_and_nothing_is_stored(web: Any, people: Any, db: Any,
                                                                               runtime: Any) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    fake = b"<html><script>alert(1)</script></html>"
    response = await web.post("/creator/photo", files={"photo": ("me.png", fake, "image/png")})
    assert response.status_code == 422
    assert "isn&#39;t a picture we can read" in response.text or "isn't a picture we can read" in response.text
    assert await db.scalar(sa.select(Creator.photo_key).where(Creator.id == creator.creator_id)) is None


async def test_brand_logo_and_gig_image_only_for_the_brands_own_gigs(web: Any, make_web: Any, people: Any, db: Any,
                                                                     runtime: Any, backend: dict[str, str]) -> None:
    brand = await people.brand()
    other = await people.brand()
    gig = await make_open_gig(runtime, brand)
    await web.sign_in(brand.email, brand.password)
    logo = await web.post("/brand/logo", files={"logo": ("logo.jpg", picture(900, 300, "JPEG"), "image/jpeg")})
    assert logo.status_code == 303
    logo_key = await db.scalar(sa.select(Brand.logo_key).where(Brand.id == brand.brand_id))
    await _stored_where_expected(backend, runtime, logo_key)

    image = await web.post(f"/brand/gigs/{gig.id}/image", files={"image": ("p.png", picture(), "image/png")})
    assert image.status_code == 303
    image_key = await db.scalar(sa.select(Gig.product_image_key).where(Gig.id == gig.id))
    assert image_key and (await web.get(f"/media/{image_key}")).status_code == 200

    intruder = await make_web()
    await intruder.sign_in(other.email, other.password)
    denied = await intruder.post(f"/brand/gigs/{gig.id}/image", files={"image": ("p.png", picture(), "image/png")})
    assert denied.status_code == 404
    assert await db.scalar(sa.select(Gig.product_image_key).where(Gig.id == gig.id)) == image_key


async def test_portfolio_items_and_verified_posts(web: Any, make_web: Any, people: Any, db: Any,
                                                  runtime: Any) -> None:
    deal = await make_deal(runtime, CollabState.VERIFIED)
    creator = deal.creator
    await web.sign_in(creator.email, creator.password)
    page = await web.get("/creator/portfolio")
    assert "verified on PostPact" in page.text  # the deal's verified post shows by itself

    added = await web.post("/creator/portfolio", {"title": "Spring haul", "post_url": "https://www.tiktok.com/@ava/video/1"},
                           files={"image": ("p.png", picture(1200, 1200), "image/png")})
    assert added.status_code == 303
    item = await db.scalar(sa.select(PortfolioItem).where(PortfolioItem.creator_id == creator.creator_id))
    assert item.image_key and item.post_url.endswith("/video/1")

    empty = await web.post("/creator/portfolio", {"title": "Nothing"})
    assert empty.status_code == 422 and "Add a link to the post, a picture, or both." in empty.text

    someone = await people.creator()
    other = await make_web()
    await other.sign_in(someone.email, someone.password)
    assert (await other.post(f"/creator/portfolio/{item.id}/delete")).status_code == 404
    assert (await web.post(f"/creator/portfolio/{item.id}/delete")).status_code == 303
    assert await db.scalar(sa.select(sa.func.count()).select_from(PortfolioItem)) == 0


async def test_storage_round_trip_and_keys(runtime: Any) -> None:
    storage = storage_of(runtime)
    await storage.put("tests/a/b.webp", b"abc", "image/webp")
    found = await storage.get("tests/a/b.webp")
    assert found is not None and found.data == b"abc" and found.content_type == "image/webp"
    await storage.delete("tests/a/b.webp")
    assert await storage.get("tests/a/b.webp") is None
    assert await storage.get("../etc/passwd") is None
    with pytest.raises(StorageError):
        await storage.put("../escape.webp", b"x", "image/webp")


async def test_unknown_media_is_404(web: Any) -> None:
    assert (await web.get("/media/creators/nothing-here.webp")).status_code == 404
    assert (await web.get("/media/..%2F..%2Fsecret_key")).status_code == 404


def test_s3_settings_need_a_bucket() -> None:
    from marketplace.settings import ConfigurationError, Settings

    with pytest.raises(ConfigurationError):
        Settings.from_env({"STORAGE_BACKEND": "s3", "POSTPACT_ENV": "test"})
    assert build_storage(Settings.from_env({"POSTPACT_ENV": "test"}).storage).__class__.__name__ == "LocalStorage"


async def test_cards_in_search_and_directory_show_the_pictures(web: Any, make_web: Any, people: Any, db: Any,
                                                               runtime: Any) -> None:
    from tests.support.marketplace import make_creator_with_account

    brand = await people.brand()
    gig = await make_open_gig(runtime, brand)
    await web.sign_in(brand.email, brand.password)
    await web.post(f"/brand/gigs/{gig.id}/image", files={"image": ("p.png", picture(), "image/png")})
    image_key = await db.scalar(sa.select(Gig.product_image_key).where(Gig.id == gig.id))

    creator = (await make_creator_with_account(runtime, people)).person
    viewer = await make_web()
    await viewer.sign_in(creator.email, creator.password)
    await viewer.post("/creator/photo", files={"photo": ("me.png", picture(600, 600), "image/png")})
    photo_key = await db.scalar(sa.select(Creator.photo_key).where(Creator.id == creator.creator_id))
    search = await viewer.get("/gigs")
    assert f'src="/media/{image_key}"' in search.text

    directory = await web.get("/brand/creators")
    assert directory.status_code == 200
    assert f'src="/media/{photo_key}"' in directory.text


CDN = "https://cdn.example.test/postpact"


@pytest.fixture
def cdn(test_env: dict[str, str]) -> str:
    """MEDIA_PUBLIC_URL set (a CDN or public bucket in front of the storage), before the app's settings are built."""
    test_env["MEDIA_PUBLIC_URL"] = CDN + "/"
    return CDN


async def test_every_card_links_pictures_at_the_storage_public_url(cdn: str, web: Any, make_web: Any, people: Any,
                                                                   db: Any, runtime: Any) -> None:
    """With MEDIA_PUBLIC_URL, gig cards (search and public), creator cards (directory and public page), brand logos
    and portfolios link the picture there, on local files and on S3 alike; nothing is linked through /media/."""
    from tests.support.marketplace import make_creator_with_account

    assert runtime.settings.storage.media_public_url == cdn  # the trailing slash is dropped once, in the settings
    brand = await people.brand()
    gig = await make_open_gig(runtime, brand)
    await web.sign_in(brand.email, brand.password)
    await web.post(f"/brand/gigs/{gig.id}/image", files={"image": ("p.png", picture(), "image/png")})
    await web.post("/brand/logo", files={"logo": ("l.png", picture(400, 400), "image/png")})
    image_key = await db.scalar(sa.select(Gig.product_image_key).where(Gig.id == gig.id))
    logo_key = await db.scalar(sa.select(Brand.logo_key).where(Brand.id == brand.brand_id))
    creator = (await make_creator_with_account(runtime, people)).person
    viewer = await make_web()
    await viewer.sign_in(creator.email, creator.password)
    await viewer.post("/creator/photo", files={"photo": ("me.png", picture(600, 600), "image/png")})
    photo_key = await db.scalar(sa.select(Creator.photo_key).where(Creator.id == creator.creator_id))
    assert image_key and logo_key and photo_key
    # The picture is still in the configured storage (the CDN reads from it).
    assert await storage_of(runtime).get(image_key) is not None

    anyone = await make_web()
    pages = {
        "search": (await viewer.get("/gigs")).text,
        "directory": (await web.get("/brand/creators")).text,
        "explore gigs": (await anyone.get("/explore/gigs")).text,
        "explore gig": (await anyone.get(f"/explore/gigs/{gig.id}")).text,
        "explore brand": (await anyone.get(f"/explore/brands/{brand.brand_id}")).text,
        "explore creator": (await anyone.get(f"/explore/creators/{creator.creator_id}")).text,
    }
    expected = {"search": image_key, "directory": photo_key, "explore gigs": image_key,
                "explore brand": logo_key, "explore creator": photo_key}
    for page, key in expected.items():
        assert f'src="{cdn}/{key}"' in pages[page], page
    for page, text in pages.items():
        assert 'src="/media/' not in text, page


async def test_without_a_public_url_the_public_cards_link_pictures_through_postpact(web: Any, make_web: Any,
                                                                                     people: Any, db: Any,
                                                                                     runtime: Any) -> None:
    assert runtime.settings.storage.media_public_url is None
    brand = await people.brand()
    gig = await make_open_gig(runtime, brand)
    await web.sign_in(brand.email, brand.password)
    await web.post(f"/brand/gigs/{gig.id}/image", files={"image": ("p.png", picture(), "image/png")})
    await web.post("/brand/logo", files={"logo": ("l.png", picture(400, 400), "image/png")})
    image_key = await db.scalar(sa.select(Gig.product_image_key).where(Gig.id == gig.id))
    logo_key = await db.scalar(sa.select(Brand.logo_key).where(Brand.id == brand.brand_id))
    anyone = await make_web()
    listing = await anyone.get("/explore/gigs")
    assert f'src="/media/{image_key}"' in listing.text
    brand_page = await anyone.get(f"/explore/brands/{brand.brand_id}")
    assert f'src="/media/{logo_key}"' in brand_page.text
    served = await anyone.get(f"/media/{logo_key}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
