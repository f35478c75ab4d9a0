"""Server-rendered SVG charts for the sales pages: no JavaScript, and a table beside each one says the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from escrow.money import format_money

WIDTH, HEIGHT, PAD = 640, 220, 36


def gmv_chart(series: Sequence[tuple[date, str, int]]) -> Markup:
    """GMV per day as bars (the first currency only: amounts in different currencies don't share an axis)."""
    if not series:
        return Markup("")
    currency = series[0][1]
    points = [(d, amount) for d, c, amount in series if c == currency]
    top = max((amount for _, amount in points), default=0) or 1
    first, last = points[0][0], points[-1][0]
    days = max((last - first).days, 0) + 1
    slot = (WIDTH - 2 * PAD) / days
    bars = []
    for d, amount in points:
        h = (HEIGHT - 2 * PAD) * max(amount, 0) / top
        x = PAD + (d - first).days * slot
        label = escape(f"{d.isoformat()}: {format_money(amount, currency)}")
        bars.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}">'
                    f"<title>{label}</title></rect>")
    axis = (f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>'
            f'<text x="{PAD}" y="{HEIGHT - 10}">{first.isoformat()}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 10}" text-anchor="end">{last.isoformat()}</text>'
            f'<text x="{PAD}" y="{PAD - 10}">{escape(format_money(top, currency))}</text>')
    # Every interpolated text is escaped above; the rest is numbers we computed.
    svg = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="GMV per day in {escape(currency)}">{axis}{"".join(bars)}</svg>')
    return Markup(svg)  # noqa: S704
