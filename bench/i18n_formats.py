"""Benchmark: what showing a page in the viewer's language and zone costs per value, against the plain formatting it
replaced, measured in the same run.

Times ``i18n.format_datetime`` (viewer's zone, zone named, locale pattern), ``i18n.format_money`` (Babel currency
format) and ``i18n.gettext`` for English and Simplified Chinese, next to the old ``strftime`` date and
``escrow.money.format_money``; then renders a 24-card listing fragment (a date, an amount and three messages per
card) in each language. Prints microseconds and ratios to the baseline.

    .venv/bin/python bench/i18n_formats.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jinja2

from escrow.money import format_money as plain_money
from marketplace import i18n
from marketplace.templating import configure_jinja

MOMENTS = [datetime(2026, 12, 7, 19, 40, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(50)]
AMOUNTS = [1500 + 250 * i for i in range(50)]


def per_call(fn: Callable[[int], object], rounds: int = 5, calls: int = 20_000) -> float:
    """Median over rounds of microseconds per call."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(calls):
            fn(i)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


LISTING = """{% for c in cards %}<article><h2>{{ c.title }}</h2><p>{{ _("Fee") }} {{ c.fee|money("USD") }}</p>
<p>{{ _("Apply by") }} {{ c.when|dt }}</p><p>{{ _("Eligible for you") }}</p></article>{% endfor %}"""


def main() -> None:
    baseline_dt = per_call(lambda i: MOMENTS[i % 50].strftime("%d %b %Y, %H:%M UTC"))
    baseline_money = per_call(lambda i: plain_money(AMOUNTS[i % 50], "USD"))
    print(f"baseline strftime date        {baseline_dt:7.2f} us")
    print(f"baseline escrow format_money  {baseline_money:7.2f} us")
    env = jinja2.Environment(autoescape=True)  # the app's filters and gettext, as pages get them
    configure_jinja(env)
    template = env.from_string(LISTING)
    cards = [{"title": f"Gig {i}", "fee": AMOUNTS[i], "when": MOMENTS[i]} for i in range(24)]
    for locale, zone in (("en", "America/Los_Angeles"), ("zh_Hans", "Asia/Shanghai")):
        i18n.set_locale(locale, zone)
        dt = per_call(lambda i: i18n.format_datetime(MOMENTS[i % 50]))
        money = per_call(lambda i: i18n.format_money(AMOUNTS[i % 50], "USD"))
        text = per_call(lambda i: i18n.gettext("Sign in"))
        page = per_call(lambda i: template.render(cards=cards), rounds=5, calls=300)
        print(f"{locale:8} format_datetime {dt:7.2f} us ({dt / baseline_dt:4.1f}x strftime)  "
              f"format_money {money:6.2f} us ({money / baseline_money:4.1f}x)  gettext {text:5.2f} us  "
              f"24-card fragment {page:8.1f} us")


if __name__ == "__main__":
    main()
