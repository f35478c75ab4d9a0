"""Property test: random submissions of the HTML gig form (``POST /brand/gigs``, signed-in brand, valid CSRF token)
never cause a 500; a refused form comes back with its field errors and writes nothing."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.gigs.models import Deliverable, Gig, GigNiche, gig_search_term
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.marketplace import GIG_FORM
from tests.support.properties import FIELD_ERROR, post_form, run_property

EXAMPLES = 60

GOOD_FORM = GIG_FORM

#: Text a browser (or someone with curl) might send in any field: blanks, NUL, numbers in odd notations and scripts,
#: huge values, dates at the edge of what Python can represent, raw bytes that are not UTF-8.
odd_values = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", b"\xff\xfe", "-1", "0", "-0", "1e9", "1e400", "NaN", "Infinity", "1_000",
    "\uff11\uff12", "\u0661\u0662", "12.345", "1,000.50", "999999999999", "9999999999999", "9" * 5000, "0x10",
    "2019-01-01T00:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00", "2026-12-20", "2026-13-40T99:99",
    "on", "off", "true", "USD", "usd", "JPY", "BHD", "XXX", "tiktok", "TikTok", "myspace", "video", "podcast",
    "gold", "SILVER", "platinum", "https://cdn.example/x.png", "javascript:alert(1)", "<script>x</script>",
    "#" * 300, "x" * 25_000, "-72, -24, 24, 72", "1, two, 3", ",,,", "us ca gb de fr es it nl be ch at",
])
form_text = st.one_of(st.text(max_size=40), odd_values)
numbers = st.integers(min_value=-(10**13), max_value=10**13).map(str)
amounts = st.decimals(min_value=-(10**13), max_value=10**13, places=3, allow_nan=False).map(str)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "title": st.text(max_size=250),
    "brief": st.text(max_size=60),
    "product_included": st.sampled_from(["on", "", "off", "1"]),
    "product_name": st.text(max_size=160),
    "product_retail_value.amount": amounts,
    "product_image_url": st.sampled_from(["https://cdn.example/x.png", "ftp://x", "not a url", "http://"]),
    "base_fee.amount": amounts,
    "base_fee.currency": st.sampled_from(["USD", "EUR", "JPY", "KWD", "XXX", "", "usd"]),
    "commission_bps": amounts,
    "apply_by": st.datetimes().map(lambda d: d.isoformat()),
    "ship_within_days": numbers,
    "post_within_days": numbers,
    "revision_rounds": numbers,
    "review_window_hours": numbers,
    "keep_live_days": numbers,
    "reminder_offsets_hours": st.lists(st.integers(min_value=-2000, max_value=2000), max_size=12).map(
        lambda xs: ", ".join(map(str, xs))),
    "slots": numbers,
    "eligible_platforms": st.sampled_from(["tiktok", "youtube", "instagram", "vine"]),
    "min_followers": numbers,
    "max_followers": numbers,
    "eligible_countries": st.lists(st.sampled_from(["US", "de", "XX", "USA", "1"]), max_size=4).map(" ".join),
    "niches": st.lists(st.text(max_size=45), max_size=12).map(", ".join),
    "min_reliability": amounts,
    "min_tier": st.sampled_from(["gold", "SILVER", "platinum", ""]),
}
for _i in range(12):  # the form reads rows 0-9; rows 10 and 11 must be ignored
    _row = f"deliverables[{_i}]"
    FIELD_VALUES.update({
        f"{_row}.platform": st.sampled_from(["tiktok", "instagram", "youtube", "myspace", ""]),
        f"{_row}.kind": st.sampled_from(["video", "post", "story", "reel", "podcast"]),
        f"{_row}.count": numbers,
        f"{_row}.required_hashtags": st.lists(st.text(max_size=70), max_size=25).map(" ".join),
        f"{_row}.required_mentions": st.lists(st.text(max_size=70), max_size=3).map(" ".join),
        f"{_row}.disclosure_required": st.sampled_from(["on", ""]),
        f"{_row}.disclosure_text": st.text(max_size=50),
    })
FIELDS = sorted(FIELD_VALUES)


@st.composite
def gig_forms(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """The good form with a few fields dropped or changed (at least one; shrinks towards one), plus repeated fields."""
    form: dict[str, Any] = dict(GOOD_FORM)
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, min_size=1, max_size=8)):
        value = draw(st.one_of(st.none(), FIELD_VALUES[name], form_text))
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    pairs = list(form.items())
    pairs += draw(st.lists(st.tuples(st.sampled_from([*FIELDS, "unknown", ""]), st.one_of(form_text, numbers)),
                           max_size=3))
    return pairs






async def counts(db) -> tuple[int, ...]:
    values = [await db.scalar(sa.select(sa.func.count(col)))
              for col in (Gig.id, Deliverable.id, GigNiche.id, Notification.id, OutboxEmail.id)]
    values.append(await db.scalar(sa.select(sa.func.count()).select_from(gig_search_term)))
    return tuple(values)


async def test_random_gig_form_submissions(web, runtime, people, db) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    outcomes = {"saved": 0, "refused": 0}

    async def check(pairs: list[tuple[str, Any]]) -> None:
        before = await counts(db)
        response = await post_form(web, "/brand/gigs", pairs)
        assert response.status_code < 500, (pairs, response.text[:500])
        if response.status_code == 303:
            assert re.fullmatch(r"/brand/gigs/[0-9a-f-]{36}", response.headers["location"])
            after = await counts(db)
            assert after[0] == before[0] + 1
            outcomes["saved"] += 1
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
            assert 'id="gig-form"' in response.text, response.text[:500]
            assert FIELD_ERROR.search(response.text), (pairs, response.text[:2000])
            assert await counts(db) == before, pairs
            outcomes["refused"] += 1

    await run_property(gig_forms(), check, examples=EXAMPLES)
    # The generator reaches both sides: forms that are saved and forms that are refused.
    assert outcomes["saved"] and outcomes["refused"], outcomes
