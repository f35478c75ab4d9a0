"""Server-rendered SVG charts for the sales pages: no JavaScript, and a table beside each one says the same. Their
words and amounts are in the viewer's language and locale, like the table's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from marketplace.i18n import format_money, gettext
from marketplace.sales.reports import Figures

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
    title = gettext("GMV per day in %(currency)s", currency=currency)
    # Every interpolated text is escaped; the rest is numbers we computed.
    svg = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(title)}">{axis}{"".join(bars)}</svg>')
    return Markup(svg)  # noqa: S704


def cost_revenue_chart(rows: Sequence[Figures], *, limit: int = 12) -> Markup:
    """Per creator, GMV beside total cost as paired horizontal bars (first currency only, the ``limit`` largest by
    GMV): a creator whose GMV bar is longer than their cost bar returned more than they cost."""
    if not rows:
        return Markup("")
    currency = rows[0].currency
    shown = [f for f in rows if f.currency == currency][:limit]
    top = max((max(f.gmv, f.total_cost) for f in shown), default=0) or 1
    label_w, row_h = 150, 34
    height = PAD + row_h * len(shown) + 20
    span = WIDTH - label_w - PAD
    parts = []

    def money(amount: int) -> str:
        return format_money(amount, currency)

    for i, f in enumerate(shown):
        y = PAD + i * row_h
        name = escape(f.label[:22])
        gmv_w, cost_w = span * max(f.gmv, 0) / top, span * max(f.total_cost, 0) / top
        gmv_title = gettext("%(name)s: GMV %(amount)s", name=f.label[:22], amount=money(f.gmv))
        cost_title = gettext("%(name)s: cost %(amount)s", name=f.label[:22], amount=money(f.total_cost))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{name}</text>'
            f'<rect class="revenue" fill="#2f7d5b" x="{label_w}" y="{y}" width="{gmv_w:.1f}" height="12">'
            f"<title>{escape(gmv_title)}</title></rect>"
            f'<rect class="cost" fill="#c2693e" x="{label_w}" y="{y + 14}" width="{cost_w:.1f}" height="12">'
            f"<title>{escape(cost_title)}</title></rect>")
    words = {"gmv": gettext("GMV"), "cost": gettext("Total cost"),
             "title": gettext("GMV and total cost per creator in %(currency)s", currency=currency)}
    legend = (f'<rect class="revenue" fill="#2f7d5b" x="{label_w}" y="8" width="12" height="12"/>'
              f'<text x="{label_w + 16}" y="18">{escape(words["gmv"])}</text>'
              f'<rect class="cost" fill="#c2693e" x="{label_w + 70}" y="8" width="12" height="12"/>'
              f'<text x="{label_w + 86}" y="18">{escape(words["cost"])}</text>'
              f'<text x="{WIDTH - PAD}" y="18" text-anchor="end">{escape(format_money(top, currency))}</text>')
    svg = (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{escape(words["title"])}">{legend}{"".join(parts)}</svg>')
    return Markup(svg)  # noqa: S704
