"""The funnel as a server-rendered SVG bar chart: no chart library, no JavaScript.

A few dozen rectangles and labels; writing them is shorter than vendoring a chart library
and keeps the page working without scripts.
"""

from __future__ import annotations

from html import escape

from bot.reports.steps import FunnelSection

ROW = 26
LABEL = 190
BAR = 420


def funnel_svg(section: FunnelSection) -> str:
    """Bars for ``reached`` per step (as a share of the widest), with the count and CR."""
    steps = section.steps
    top = max([section.entered, *(s.total.reached for s in steps)]) or 1
    height = ROW * (len(steps) + 1) + 8
    width = LABEL + BAR + 120
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(section.title)}</title>",
    ]
    rows: list[tuple[str, int, float | None]] = [
        ("→ " + escape(section.title), section.entered, None)
    ]
    rows += [(escape(s.step), s.total.reached, s.total.from_start) for s in steps]
    for i, (label, count, share) in enumerate(rows):
        y = 4 + i * ROW
        w = max(round(BAR * count / top), 1 if count else 0)
        pct = f" · {share:.0%}" if share is not None else ""
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + 17}" text-anchor="end" class="lbl">{label}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{w}" height="{ROW - 8}" rx="3" '
            f'class="{"bar0" if i == 0 else "bar"}"/>'
            f'<text x="{LABEL + w + 6}" y="{y + 17}" class="num">{count}{pct}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
