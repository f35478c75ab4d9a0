"""The oEmbed adapters over real HTTP against the local fake server, plus link parsing and id-time decoding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from marketplace.verification.adapters import (
    InstagramAdapter,
    PostAdapter,
    build_adapters,
    fetch_post,
    read_instagram_embed,
)
from marketplace.verification.checks import DealRequirements, VerificationStatus, verify_post
from marketplace.verification.outcomes import (
    FetchedPost,
    MalformedResponse,
    PostNotFound,
    PostNotPublic,
    ProviderAuthError,
    TransientFetchError,
    parse_retry_after,
)
from marketplace.verification.posts import (
    InvalidPostUrl,
    Platform,
    instagram_media_id_time,
    instagram_shortcode_time,
    instagram_shortcode_to_media_id,
    parse_post_url,
    tiktok_id_time,
)
from marketplace.verification.ratelimit import RateLimit, TokenBucket
from tests.fakes.oembed_server import CannedResponse, OEmbedServer, graph_error

TIKTOK_URL = "https://www.tiktok.com/@glowwithmia/video/7559684939684400414"
YOUTUBE_URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
INSTAGRAM_URL = "https://www.instagram.com/p/DW1nTDiDvnF/"
URLS = {Platform.TIKTOK: TIKTOK_URL, Platform.YOUTUBE: YOUTUBE_URL, Platform.INSTAGRAM: INSTAGRAM_URL}
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FAST = RateLimit(per_second=1000, burst=100)


@dataclass(frozen=True)
class EndpointSettings:
    tiktok_oembed_url: str
    youtube_oembed_url: str
    instagram_oembed_url: str
    instagram_app_token: str | None = None
    timeout_seconds: float = 2.0


@dataclass
class FakeClock:
    """Monotonic time that only moves when someone sleeps; records every sleep."""

    t: float = 100.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def server() -> Iterator[OEmbedServer]:
    with OEmbedServer() as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must not swallow loopback traffic.
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


def make_adapters(
    server: OEmbedServer,
    client: httpx.AsyncClient,
    *,
    clock: FakeClock | None = None,
    timeout: float = 2.0,
    token: str | None = None,
    limit: RateLimit = FAST,
) -> dict[Platform, PostAdapter]:
    clock = clock or FakeClock()
    settings = EndpointSettings(
        server.endpoint("tiktok"), server.endpoint("youtube"), server.endpoint("instagram"), token, timeout
    )
    return build_adapters(
        client,
        settings,
        rate_limits=dict.fromkeys(Platform, limit),
        now=lambda: NOW,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )


def add_standard_post(server: OEmbedServer, platform: Platform, **overrides: object) -> None:
    values: dict[str, object] = {"author": "glowwithmia", "caption": "Morning routine with @brand #ad #glow"}
    values.update(overrides)
    server.add_post(platform.value, URLS[platform], **values)  # type: ignore[arg-type]


def requirements(**overrides: object) -> DealRequirements:
    values: dict[str, object] = {
        "creator_handle": "@glowwithmia",
        "signed_at": datetime(2025, 1, 1, tzinfo=UTC),
        "required_hashtags": ("#glow",),
        "required_mentions": ("@brand",),
    }
    values.update(overrides)
    return DealRequirements(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------------
# Success per platform


async def test_tiktok_post_is_fetched_with_author_caption_and_id_time(
    server: OEmbedServer, client: httpx.AsyncClient
) -> None:
    add_standard_post(server, Platform.TIKTOK, author_name="Mia Glow")
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)

    assert isinstance(outcome, FetchedPost)
    assert outcome.author_handle == "glowwithmia"
    assert outcome.author_name == "Mia Glow"
    assert outcome.caption == "Morning routine with @brand #ad #glow"
    assert outcome.caption_is_complete
    assert outcome.published_at == datetime.fromtimestamp(1760126310, UTC)
    assert outcome.engagement is None
    assert outcome.fetched_at == NOW
    assert outcome.payload_sha256 == hashlib.sha256(outcome.raw_payload).hexdigest()
    assert json.loads(outcome.raw_payload) == outcome.payload
    assert outcome.payload["provider_name"] == "TikTok"
    assert server.request_count(TIKTOK_URL) == 1
    assert verify_post(outcome, requirements()).status is VerificationStatus.VERIFIED


@pytest.mark.parametrize(
    "link",
    [YOUTUBE_URL, "https://youtu.be/dQw4w9WgXcQ", "https://www.youtube.com/shorts/dQw4w9WgXcQ"],
)
async def test_youtube_post_is_fetched_by_any_link_form(
    server: OEmbedServer, client: httpx.AsyncClient, link: str
) -> None:
    add_standard_post(server, Platform.YOUTUBE)
    outcome = await fetch_post(make_adapters(server, client), link)

    assert isinstance(outcome, FetchedPost)
    assert outcome.requested_url == YOUTUBE_URL
    assert outcome.author_handle == "glowwithmia"
    assert outcome.caption_is_complete is False
    assert outcome.published_at is None
    assert server.requests[-1].params == {"url": YOUTUBE_URL, "format": "json"}
    assert verify_post(outcome, requirements()).status is VerificationStatus.VERIFIED


async def test_instagram_author_and_caption_come_from_embed_html(
    server: OEmbedServer, client: httpx.AsyncClient
) -> None:
    add_standard_post(server, Platform.INSTAGRAM, author="glow.with.mia", author_name="Mia & Co", caption="Hi\n#ad")
    outcome = await make_adapters(server, client)[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)

    assert isinstance(outcome, FetchedPost)
    assert "author_name" not in outcome.payload  # removed by Meta on 2025-11-03
    assert outcome.author_handle == "glow.with.mia"
    assert outcome.author_name == "Mia & Co"
    assert outcome.caption == "Hi\n#ad"
    assert outcome.published_at == datetime.fromtimestamp(1775580510.621, UTC)
    assert "Authorization" not in server.requests[-1].headers


async def test_instagram_legacy_author_fields_are_still_read(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.INSTAGRAM, legacy_instagram_fields=True)
    outcome = await make_adapters(server, client)[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)
    assert isinstance(outcome, FetchedPost)
    assert outcome.author_url == "https://www.instagram.com/glowwithmia"
    assert outcome.author_handle == "glowwithmia"


async def test_instagram_token_travels_in_a_header_and_bad_tokens_are_our_problem(client: httpx.AsyncClient) -> None:
    with OEmbedServer(instagram_token="123|secret") as server:
        add_standard_post(server, Platform.INSTAGRAM)
        good = await make_adapters(server, client, token="123|secret")[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)
        bad = await make_adapters(server, client, token="123|wrong")[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)

        assert isinstance(good, FetchedPost)
        assert server.requests[0].headers["Authorization"] == "Bearer 123|secret"
        assert "access_token" not in server.requests[0].params
        assert isinstance(bad, ProviderAuthError)
        assert "wrong" not in bad.reason and "wrong" not in bad.requested_url
        assert verify_post(bad, requirements()).status is VerificationStatus.NEEDS_REVIEW


# --------------------------------------------------------------------------------------------------------------------
# What goes wrong, per platform


@pytest.mark.parametrize("platform", list(Platform))
async def test_deleted_post_is_not_found(server: OEmbedServer, client: httpx.AsyncClient, platform: Platform) -> None:
    add_standard_post(server, platform)
    server.delete(URLS[platform])
    outcome = await make_adapters(server, client)[platform].fetch(URLS[platform])

    assert isinstance(outcome, PostNotFound)
    assert outcome.status_code in {400, 404}
    assert outcome.requested_url == URLS[platform]
    assert verify_post(outcome, requirements()).status is VerificationStatus.FAILED


async def test_never_registered_post_is_not_found(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    outcome = await make_adapters(server, client)[Platform.YOUTUBE].fetch("https://youtu.be/aaaaaaaaaaa")
    assert isinstance(outcome, PostNotFound)
    assert outcome.body_excerpt == "Not Found"


@pytest.mark.parametrize("platform", list(Platform))
async def test_private_post_is_not_public(server: OEmbedServer, client: httpx.AsyncClient, platform: Platform) -> None:
    add_standard_post(server, platform)
    server.make_private(URLS[platform])
    outcome = await make_adapters(server, client)[platform].fetch(URLS[platform])

    assert isinstance(outcome, PostNotPublic)
    result = verify_post(outcome, requirements())
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["is_public"]


@pytest.mark.parametrize(("platform", "status"), [(Platform.YOUTUBE, 401), (Platform.INSTAGRAM, 400)])
async def test_embedding_disabled_is_not_public(
    server: OEmbedServer, client: httpx.AsyncClient, platform: Platform, status: int
) -> None:
    add_standard_post(server, platform)
    server.disable_embedding(URLS[platform])
    outcome = await make_adapters(server, client)[platform].fetch(URLS[platform])
    assert isinstance(outcome, PostNotPublic)
    assert outcome.status_code == status
    assert "embed" in outcome.reason


async def test_tiktok_html_403_is_a_bot_wall_not_privacy(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK)
    page = CannedResponse(403, b"<html>Access Denied</html>", content_type="text/html")
    server.respond_with(TIKTOK_URL, page)
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)
    assert isinstance(outcome, MalformedResponse)


async def test_wrong_author_fails_author_check(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK, author="copycat_account")
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)
    result = verify_post(outcome, requirements())
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["author_matches"]


async def test_missing_disclosure_fails(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.INSTAGRAM, caption="My #adventure with @brand #glow")
    outcome = await make_adapters(server, client)[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)
    result = verify_post(outcome, requirements())
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["disclosure_present"]


@pytest.mark.parametrize("platform", [Platform.TIKTOK, Platform.YOUTUBE])
async def test_429_reports_retry_after_and_pauses_the_limiter(
    server: OEmbedServer, client: httpx.AsyncClient, platform: Platform
) -> None:
    add_standard_post(server, platform)
    server.rate_limit(URLS[platform], retry_after=30)
    clock = FakeClock()
    adapter = make_adapters(server, client, clock=clock)[platform]

    outcome = await adapter.fetch(URLS[platform])
    assert isinstance(outcome, TransientFetchError)
    assert outcome.status_code == 429
    assert outcome.retry_after == 30.0
    assert verify_post(outcome, requirements()).status is VerificationStatus.NEEDS_REVIEW

    assert isinstance(await adapter.fetch(URLS[platform]), FetchedPost)
    assert sum(clock.sleeps) == pytest.approx(30.0)
    assert server.request_count(URLS[platform]) == 2


async def test_retry_after_as_http_date(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK)
    server.rate_limit(TIKTOK_URL, retry_after=format_datetime(NOW + timedelta(seconds=90), usegmt=True))
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)
    assert isinstance(outcome, TransientFetchError)
    assert outcome.retry_after == 90.0


async def test_server_errors_are_transient_until_they_stop(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.YOUTUBE)
    server.fail_next(YOUTUBE_URL, times=2, status=500)
    adapter = make_adapters(server, client)[Platform.YOUTUBE]

    first, second, third = [await adapter.fetch(YOUTUBE_URL) for _ in range(3)]
    assert isinstance(first, TransientFetchError) and first.status_code == 500 and first.retry_after is None
    assert isinstance(second, TransientFetchError)
    assert isinstance(third, FetchedPost)
    assert server.request_count(YOUTUBE_URL) == 3


@pytest.mark.parametrize(
    ("code", "expected"),
    [(4, TransientFetchError), (2, TransientFetchError), (190, ProviderAuthError), (10, ProviderAuthError)],
)
async def test_graph_error_codes_are_classified(
    server: OEmbedServer, client: httpx.AsyncClient, code: int, expected: type
) -> None:
    add_standard_post(server, Platform.INSTAGRAM)
    server.respond_with(INSTAGRAM_URL, graph_error(code, f"(#{code}) something"))
    outcome = await make_adapters(server, client)[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)
    assert type(outcome) is expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("(#100) instagram_oembed found no media at this URL", PostNotFound),
        ("(#100) Media from a private account can't be embedded", PostNotPublic),
    ],
)
async def test_graph_code_100_reads_the_message_for_privacy(
    server: OEmbedServer, client: httpx.AsyncClient, message: str, expected: type
) -> None:
    add_standard_post(server, Platform.INSTAGRAM)
    server.respond_with(INSTAGRAM_URL, graph_error(100, message))
    outcome = await make_adapters(server, client)[Platform.INSTAGRAM].fetch(INSTAGRAM_URL)
    assert type(outcome) is expected
    assert outcome.status_code == 400  # type: ignore[union-attr]


@pytest.mark.parametrize("platform", list(Platform))
async def test_malformed_answer_is_inconclusive(
    server: OEmbedServer, client: httpx.AsyncClient, platform: Platform
) -> None:
    add_standard_post(server, platform)
    server.serve_malformed(URLS[platform])
    outcome = await make_adapters(server, client)[platform].fetch(URLS[platform])
    assert isinstance(outcome, MalformedResponse)
    assert "JavaScript" in outcome.body_excerpt
    assert verify_post(outcome, requirements()).status is VerificationStatus.NEEDS_REVIEW


async def test_json_missing_fields_is_malformed(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK)
    server.respond_with(TIKTOK_URL, CannedResponse(200, b'{"version": "1.0", "type": "video"}'))
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)
    assert isinstance(outcome, MalformedResponse)


async def test_tiktok_answer_about_another_video_is_malformed(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK, extra_fields={"embed_product_id": "7000000000000000000"})
    outcome = await make_adapters(server, client)[Platform.TIKTOK].fetch(TIKTOK_URL)
    assert isinstance(outcome, MalformedResponse)


async def test_slow_answer_times_out_as_transient(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.TIKTOK)
    server.respond_slowly(TIKTOK_URL, 2.0)
    outcome = await make_adapters(server, client, timeout=0.2)[Platform.TIKTOK].fetch(TIKTOK_URL)
    assert isinstance(outcome, TransientFetchError)
    assert "0.2 s" in outcome.reason


async def test_unreachable_platform_is_transient(client: httpx.AsyncClient) -> None:
    with OEmbedServer() as server:
        adapters = make_adapters(server, client)
    # The server is stopped now, so its port refuses connections.
    outcome = await adapters[Platform.YOUTUBE].fetch(YOUTUBE_URL)
    assert isinstance(outcome, TransientFetchError)
    assert "could not reach YouTube" in outcome.reason


async def test_oversized_answer_is_malformed(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    add_standard_post(server, Platform.YOUTUBE, caption="x" * 5000)
    adapter = make_adapters(server, client)[Platform.YOUTUBE]
    adapter.max_body_bytes = 1000
    assert isinstance(await adapter.fetch(YOUTUBE_URL), MalformedResponse)


# --------------------------------------------------------------------------------------------------------------------
# Rate limiting


async def test_rate_limiter_spaces_requests_with_an_injected_clock(
    server: OEmbedServer, client: httpx.AsyncClient
) -> None:
    add_standard_post(server, Platform.TIKTOK)
    clock = FakeClock()
    adapter = make_adapters(server, client, clock=clock, limit=RateLimit(per_second=2, burst=1))[Platform.TIKTOK]

    outcomes = [await adapter.fetch(TIKTOK_URL) for _ in range(3)]
    assert all(isinstance(o, FetchedPost) for o in outcomes)
    assert clock.sleeps == pytest.approx([0.5, 0.5])
    assert server.request_count(TIKTOK_URL) == 3


async def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(per_second=1, burst=3), monotonic=clock.monotonic, sleep=clock.sleep)
    waits = [await bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(1.0)]
    clock.t += 10  # idle time refills only up to the burst
    waits = [await bucket.acquire() for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == pytest.approx(1.0)


async def test_token_bucket_pause_holds_callers_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(per_second=10, burst=5), monotonic=clock.monotonic, sleep=clock.sleep)
    bucket.pause(12.5)
    assert await bucket.acquire() == pytest.approx(12.5)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("  ", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=5), usegmt=True), NOW) == 0.0


# --------------------------------------------------------------------------------------------------------------------
# Links


@pytest.mark.parametrize(
    ("link", "platform", "post_id", "canonical"),
    [
        (TIKTOK_URL, Platform.TIKTOK, "7559684939684400414", TIKTOK_URL),
        (
            "tiktok.com/@Glow.With_Mia/video/7559684939684400414?is_from_webapp=1&sender_device=pc",
            Platform.TIKTOK,
            "7559684939684400414",
            "https://www.tiktok.com/@Glow.With_Mia/video/7559684939684400414",
        ),
        ("http://m.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", Platform.YOUTUBE, "dQw4w9WgXcQ", YOUTUBE_URL),
        ("https://youtu.be/dQw4w9WgXcQ?si=abc", Platform.YOUTUBE, "dQw4w9WgXcQ", YOUTUBE_URL),
        ("https://youtube.com/shorts/dQw4w9WgXcQ/", Platform.YOUTUBE, "dQw4w9WgXcQ", YOUTUBE_URL),
        ("https://instagram.com/p/DW1nTDiDvnF?img_index=1", Platform.INSTAGRAM, "DW1nTDiDvnF", INSTAGRAM_URL),
        (
            "https://www.instagram.com/reels/DWbNC2OEilE/",
            Platform.INSTAGRAM,
            "DWbNC2OEilE",
            "https://www.instagram.com/reel/DWbNC2OEilE/",
        ),
        ("https://www.instagram.com/glow.with.mia/p/DW1nTDiDvnF/", Platform.INSTAGRAM, "DW1nTDiDvnF", INSTAGRAM_URL),
    ],
)
def test_links_are_recognised_and_normalised(link: str, platform: Platform, post_id: str, canonical: str) -> None:
    ref = parse_post_url(link)
    assert (ref.platform, ref.post_id, ref.canonical_url) == (platform, post_id, canonical)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("", "Paste the link"),
        ("https://vm.tiktok.com/ZMabc123/", "short links"),
        ("https://www.tiktok.com/t/ZTRabc/", "short links"),
        ("https://www.tiktok.com/@glowwithmia", "not a video"),
        ("https://www.tiktok.com@evil.example/@x/video/7559684939684400414", "hides another address"),
        ("https://tiktok.com.evil.example/@x/video/7559684939684400414", "Only TikTok, YouTube and Instagram"),
        ("https://www.tiktok.com:8443/@x/video/7559684939684400414", "hides another address"),
        ("ftp://www.tiktok.com/@x/video/7559684939684400414", "https://"),
        ("https://www.youtube.com/@glowwithmia", "channel or playlist"),
        ("https://www.youtube.com/watch?v=short", "not a video"),
        ("https://www.instagram.com/stories/glowwithmia/1234567890/", "Stories"),
        ("https://www.instagram.com/share/BAabc123", "share links"),
        ("https://www.instagram.com/glowwithmia/", "not a post"),
        ("https://example.com/p/DW1nTDiDvnF/", "Only TikTok, YouTube and Instagram"),
    ],
)
def test_foreign_and_malformed_links_are_rejected_with_a_reason(link: str, message: str) -> None:
    with pytest.raises(InvalidPostUrl, match=message):
        parse_post_url(link)


async def test_adapter_refuses_another_platforms_link(server: OEmbedServer, client: httpx.AsyncClient) -> None:
    adapter = make_adapters(server, client)[Platform.INSTAGRAM]
    assert isinstance(adapter, InstagramAdapter)
    with pytest.raises(InvalidPostUrl, match="not an Instagram link"):
        await adapter.fetch(TIKTOK_URL)
    assert server.requests == []


# --------------------------------------------------------------------------------------------------------------------
# Publication time hidden in ids


@pytest.mark.parametrize(
    ("video_id", "issued_at", "create_time"),
    [
        # Pairs of (id, the platform's create_time) published with Evil0ctal's Douyin/TikTok id decoder README.
        ("7559684939684400414", 1760126310, 1760126333),
        ("7554044414469917982", 1758813023, 1758813032),
    ],
)
def test_tiktok_id_time_is_the_upper_32_bits(video_id: str, issued_at: int, create_time: int) -> None:
    decoded = tiktok_id_time(video_id)
    assert decoded == datetime.fromtimestamp(issued_at, UTC)
    # The id is issued at upload, a little before the post goes live.
    assert timedelta(0) <= datetime.fromtimestamp(create_time, UTC) - decoded < timedelta(minutes=1)


def test_tiktok_id_time_rejects_non_ids() -> None:
    assert tiktok_id_time("12345") is None
    assert tiktok_id_time("not-a-number") is None
    assert tiktok_id_time(str(1 << 64)) is None


@pytest.mark.parametrize(
    ("media_id", "expected"),
    [
        # Media ids with their known post times, from a Stack Overflow question on Instagram id timestamps.
        (2384288897814875714, datetime(2020, 8, 26, 13, 43, 27, tzinfo=UTC)),
        (2383568809444681765, datetime(2020, 8, 25, 13, 52, 46, tzinfo=UTC)),
    ],
)
def test_instagram_media_id_time(media_id: int, expected: datetime) -> None:
    assert instagram_media_id_time(media_id).replace(microsecond=0) == expected


def test_instagram_shortcode_decodes_to_media_id_and_time() -> None:
    # obsidianforensics/unfurl's test: DW1nTDiDvnF was posted at epoch-milliseconds 1775580510621.
    assert instagram_shortcode_time("DW1nTDiDvnF") == datetime.fromtimestamp(1775580510.621, UTC)
    # Shortcodes are the media id in base 64: this one encodes 2384288897814875714 from the test above.
    assert instagram_shortcode_to_media_id("CEWsh68Kc5C") == 2384288897814875714
    # Private posts' long shortcodes are not plain media ids.
    assert instagram_shortcode_time("CXdy1B-oDnSqOYMQ5fGdSgsHOBwzsdUehXouis0") is None


def test_instagram_embed_html_is_read_for_author_and_caption() -> None:
    html = (
        '<blockquote class="instagram-media"><div><a href="x"><div>View this post on Instagram</div></a>'
        '<p><a href="x">Line one &amp; more<br>#ad @brand</a></p>'
        '<p><a href="x">A post shared by @glowwithmia</a></p></div></blockquote>'
    )
    assert read_instagram_embed(html) == ("glowwithmia", None, "Line one & more\n#ad @brand")
    assert read_instagram_embed("<blockquote></blockquote>") == (None, None, None)
