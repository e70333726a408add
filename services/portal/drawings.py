"""The shortage page's pictures as inline SVG (no JavaScript, a few kilobytes): a bar chart of
uncovered demand (by skill, by month) and a map of the communes shaded by unmet demand.

Both read without colour. The chart: labelled axes with a scale, each bar's label above it and
its value written after it. The map: each commune a circle whose size and grey both grow with its
unmet weight (four classes, in a legend with their ranges), a mark inside when it has none, a
title per circle (name and figures), and the page lists the same figures as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH = 600
ROW, BAR = 34, 14  # a chart's row: its label above, its bar below
LEFT, RIGHT, TOP = 8, 70, 30
TICKS = 4
SHADES = ("#ffffff", "#d0d0d0", "#8a8a8a", "#3a3a3a")  # none, low, middle, high: lighter to darker
RADII = (6, 9, 13, 18)
MAP_H = 420
MAP_UNITS = 200  # circles on one map: a page stays far under 100 KB


def _nice(top: float) -> float:
    """The scale's end: 1, 2 or 5 times a power of ten, at or above `top`."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= top)


def bars(rows: Sequence[tuple[str, float]], *, x_title: str, y_title: str, title: str, ident: str) -> str:
    """Horizontal bars, one per (label, value), the largest scale step at or above the longest."""
    if not rows:
        return ""
    end = _nice(max(v for _, v in rows))
    inner = WIDTH - LEFT - RIGHT
    height = TOP + ROW * len(rows) + 40
    out = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="{ident}-t" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="13" fill="#222">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<text x="{LEFT}" y="16" font-weight="bold">{escape(y_title)}</text>',
    ]
    base = TOP + ROW * len(rows)
    for i in range(TICKS + 1):
        x = LEFT + inner * i / TICKS
        out.append(
            f'<line x1="{x:.0f}" y1="{TOP}" x2="{x:.0f}" y2="{base}" stroke="#ddd"/>'
            f'<text x="{x:.0f}" y="{base + 16}" text-anchor="{"start" if i == 0 else "middle"}">'
            f"{_num(end * i / TICKS)}</text>"
        )
    for k, (label, value) in enumerate(rows):
        y = TOP + ROW * k
        w = inner * value / end
        out.append(
            f'<text x="{LEFT}" y="{y + 13}">{escape(label)}</text>'
            f'<rect x="{LEFT}" y="{y + 17}" width="{max(w, 1):.0f}" height="{BAR}" fill="#555">'
            f"<title>{escape(label)}: {_num(value)}</title></rect>"
            f'<text x="{LEFT + w + 6:.0f}" y="{y + 29}" font-weight="bold">{_num(value)}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + inner}" y2="{base}" stroke="#222"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#222"/>'
        f'<text x="{LEFT + inner / 2:.0f}" y="{height - 4}" text-anchor="middle" font-weight="bold">'
        f"{escape(x_title)}</text></svg>"
    )
    return "".join(out)


def classes(top: int) -> list[tuple[int, int]]:
    """The map's classes of unmet weight: 0, then three even steps up to `top`."""
    if top <= 0:
        return [(0, 0)]
    step = max(1, math.ceil(top / 3))
    return [(0, 0), *((k * step + 1, min(top, (k + 1) * step)) for k in range(3) if k * step + 1 <= top)]


def _class(weight: int, bounds: list[tuple[int, int]]) -> int:
    return next(i for i, (lo, hi) in enumerate(bounds) if lo <= weight <= hi or i == len(bounds) - 1)


def commune_map(places: list[dict[str, Any]], *, title: str, legend_words: tuple[str, str]) -> str:
    """`places`: {name, lat, lon, weight, requests} of communes with coordinates; the unmet
    weight shades each circle. `legend_words`: (the legend's title, the word for none)."""
    if not places:
        return ""
    places = sorted(places, key=lambda p: -p["weight"])[:MAP_UNITS]
    mean_lat = math.radians(sum(p["lat"] for p in places) / len(places))
    xs = [p["lon"] * math.cos(mean_lat) for p in places]
    ys = [-p["lat"] for p in places]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    pad, legend_h = 24, 60
    size = min(WIDTH, MAP_H) - 2 * pad
    x0, y0 = pad + (WIDTH - 2 * pad - size * (max(xs) - min(xs)) / span) / 2, pad + legend_h
    bounds = classes(max(p["weight"] for p in places))
    height = int(legend_h + 2 * pad + size * (max(ys) - min(ys)) / span) + 10
    out = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="map-t" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="13" fill="#222">',
        f'<title id="map-t">{escape(title)}</title>',
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{height - 1}" fill="none" stroke="#bbb"/>',
        f'<text x="10" y="20" font-weight="bold">{escape(legend_words[0])}</text>',
    ]
    for i, (lo, hi) in enumerate(bounds):  # the legend: a swatch of each class and its range
        x = 14 + 140 * i
        words = legend_words[1] if hi == 0 else (_num(lo) if lo == hi else f"{_num(lo)}–{_num(hi)}")
        out.append(
            f'<circle cx="{x + RADII[i]}" cy="42" r="{RADII[i]}" fill="{SHADES[i]}" stroke="#222"/>'
            f'<text x="{x + 2 * RADII[i] + 6}" y="47">{escape(words)}</text>'
        )
    out.append(f'<text x="{WIDTH - 14}" y="20" text-anchor="end">B ↑</text>')
    for p, x, y in sorted(zip(places, xs, ys, strict=True), key=lambda t: t[0]["weight"]):  # the heaviest on top
        k = _class(p["weight"], bounds)
        cx, cy = x0 + size * (x - min(xs)) / span, y0 + size * (y - min(ys)) / span
        mark = (
            f'<line x1="{cx - 3:.0f}" y1="{cy:.0f}" x2="{cx + 3:.0f}" y2="{cy:.0f}" stroke="#222"/>' if k == 0 else ""
        )
        out.append(
            f"<g><title>{escape(p['name'])}: {escape(p['text'])}</title>"
            f'<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{RADII[k]}" fill="{SHADES[k]}" stroke="#222"/>{mark}</g>'
        )
    out.append("</svg>")
    return "".join(out)


def _num(v: float) -> str:
    text = f"{v:,.1f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")
