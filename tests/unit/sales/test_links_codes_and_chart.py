"""Codes from handles, link targets (UTM, ref, Shopify's /discount), bot filtering, the visitor hash, the SVG chart."""

from __future__ import annotations

import uuid
from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

from marketplace.sales.attribution import ref_in
from marketplace.sales.charts import cost_revenue_chart, gmv_chart
from marketplace.sales.links import is_bot, visitor_hash
from marketplace.sales.models import DiscountKind
from marketplace.sales.reports import (
    Figures,
    bps_text,
    conversion_rate,
    cost_per_post,
    days_to_post,
    ghost_rate,
    on_time_rate,
    ratio_bps,
    roi,
)
from marketplace.sales.services import code_for, defaults, target_url
from marketplace.stores.models import StorePlatform


def test_codes_come_from_the_handle_the_gig_and_the_discount() -> None:
    settings = defaults(uuid.uuid4())
    assert code_for("ava", "Glow serum launch", settings) == "AVA-GLOW15"
    assert code_for("@ava.brooks_", "  the   glow!", settings) == "AVABROOKS-THE15"
    settings.discount_kind, settings.discount_value = DiscountKind.FIXED, 1_000
    assert code_for("ava", "Glow", settings) == "AVA-GLOW10"
    assert code_for("", "", settings) == "CREATOR-10"


def test_link_targets_carry_utm_and_ref_and_apply_the_code_on_shopify() -> None:
    plain = target_url("https://shop.example/p?x=1", platform=StorePlatform.WOOCOMMERCE, code="AVA-GLOW15",
                       slug="ava-1a2b3c4d", campaign="glow", handle="ava")
    query = parse_qs(urlsplit(plain).query)
    assert query["x"] == ["1"] and query["utm_source"] == ["postpact"] and query["ref"] == ["ava-1a2b3c4d"]
    shopify = target_url("glowlab.myshopify.com/products/serum", platform=StorePlatform.SHOPIFY,
                         code="AVA-GLOW15", slug="ava-1a2b3c4d", campaign="glow", handle="ava")
    parts = urlsplit(shopify)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "glowlab.myshopify.com", "/discount/AVA-GLOW15")
    assert unquote(parse_qs(parts.query)["redirect"][0]).startswith("/products/serum?utm_source=postpact")
    # What the shop records as the landing page still names the deal.
    assert ref_in(shopify) == "ava-1a2b3c4d"


def test_bots_and_scripts_are_not_counted() -> None:
    for agent in ("", "Googlebot/2.1", "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0", "curl/8.5",
                  "python-requests/2.32", "WhatsApp/2.23", "Mozilla/5.0 (compatible; bingbot/2.0)"):
        assert is_bot(agent), agent
    assert not is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1")


def test_the_visitor_hash_hides_the_address_and_changes_daily() -> None:
    one = visitor_hash("secret", "203.0.113.9", "Safari", date(2026, 3, 1))
    assert len(one) == 32 and "203" not in one
    assert one == visitor_hash("secret", "203.0.113.9", "Safari", date(2026, 3, 1))
    assert one != visitor_hash("secret", "203.0.113.9", "Safari", date(2026, 3, 2))
    assert one != visitor_hash("other", "203.0.113.9", "Safari", date(2026, 3, 1))


def test_chart_is_escaped_svg_with_a_bar_per_day() -> None:
    svg = str(gmv_chart([(date(2026, 3, 1), "USD", 8_000), (date(2026, 3, 3), "USD", 4_000),
                         (date(2026, 3, 3), "EUR", 1)]))
    assert svg.startswith("<svg") and svg.count("<rect") == 2 and "$80.00" in svg
    assert str(gmv_chart([])) == ""


def test_cost_revenue_chart_pairs_gmv_and_cost_per_creator() -> None:
    rows = [Figures("a", "Ava <script>", "USD", gmv=20_000, fee=10_000), Figures("b", "Bo", "USD", gmv=0, fee=5_000),
            Figures("c", "Cy", "EUR", gmv=1, fee=1)]
    svg = str(cost_revenue_chart(rows))
    assert svg.startswith("<svg") and svg.count('class="revenue"') == 3 and svg.count('class="cost"') == 3  # + legend
    assert "&lt;script&gt;" in svg and "<script>" not in svg and "$200.00" in svg and "Cy" not in svg
    assert str(cost_revenue_chart([])) == ""


def test_delivery_figures_and_cost_per_post() -> None:
    assert cost_per_post(10_001, 2) == 5_000 and cost_per_post(500, 0) is None
    assert on_time_rate(1, 4) == 2_500 and on_time_rate(0, 0) is None
    assert ghost_rate(1, 3) == 3_333 and ghost_rate(0, 0) is None
    assert days_to_post(3 * 86_400, 2) == 1.5 and days_to_post(0, 0) is None


def test_ratios_are_whole_basis_points_rounded_half_up_without_floats() -> None:
    # 16_550 / 22_768 = 0.726897...: 7_269 bp; exactly half a basis point rounds up (1 / 20_000 = 0.5 bp).
    assert roi(16_550, 22_768) == 7_269 and roi(1, 20_000) == 1 and roi(1, 20_001) == 0 and roi(5, 0) is None
    assert conversion_rate(3, 3) == 10_000 and conversion_rate(2, 3) == 6_667 and conversion_rate(0, 0) is None
    # Exact where a float is not: 0.29 * 10_000 is 2899.9999999999995 in binary floating point.
    assert ratio_bps(29, 100) == 2_900 and ratio_bps(-1, 3) == -3_333 and ratio_bps(1, -3) == -3_333
    big = 10**18 + 1  # GMV past a float's 53 bits still divides exactly
    assert roi(big, 10**18) == 10_000 and roi(3 * big, 2 * 10**18) == 15_000
    assert all(isinstance(v, int) for v in (roi(7, 3), conversion_rate(7, 9), Figures("k", "l", "USD").deals))
    assert (bps_text(7_269), bps_text(10_000), bps_text(5), bps_text(None)) == ("0.7269", "1.0000", "0.0005", "")
    figures = Figures("a", "Ava", "USD", clicks=3, orders=2, gmv=16_550, fee=22_768)
    assert (figures.conversion_bps, figures.roi_bps) == (6_667, 7_269)
