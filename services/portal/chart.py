"""A contract's use over time, drawn as an inline SVG (no JavaScript, a few kilobytes at most).

The points come from the audit trail: every ledger movement's entry names the contract line it
charged and the minutes left under the cap after it, so used = cap - left at each decision.

The chart reads without colour: labelled axes (hours up, dates across) with a scale, the cap as
a dashed line named with its hours, the use as a solid step line with a marker at each decision
(each marker's title says when and how much), and a title for screen readers.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from services.portal import vocabulary
from shared import clock
from shared import messages as m

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 44
TICKS = 4  # the hours axis: 0, a quarter of the cap, ..., the cap
WORDS = {"vi": ("Giờ đã dùng/giữ", "Ngày", "Hạn mức"), "en": ("Hours used/reserved", "Date", "Cap")}


def use_over_time(entries: list[m.AuditEntry], contract_id: str, cap_minutes: int) -> list[dict[str, Any]]:
    """[{at, used_minutes, action}] in order, for each movement under the contract."""
    points = []
    for e in entries:
        line = e.detail.get("contract_line") or {}
        if line.get("contract") == contract_id and line.get("left_minutes_after") is not None:
            used = cap_minutes - int(line["left_minutes_after"])
            points.append({"at": e.at.isoformat(), "used_minutes": used, "action": e.action})
    return points


def _day(t: float) -> str:
    return dt.datetime.fromtimestamp(t, clock.zone()).strftime("%d/%m")


def svg(points: list[dict[str, Any]], cap_minutes: int, lang: str = "vi") -> str:
    """A step line of hours used or reserved against the cap, with its axes, scale and dates."""
    if not points or cap_minutes <= 0:
        return ""
    y_title, x_title, cap_word = WORDS.get(lang, WORDS["vi"])
    times = [dt.datetime.fromisoformat(p["at"]).timestamp() for p in points]
    start, span = times[0], max(times[-1] - times[0], 1.0)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(t: float) -> float:
        return LEFT + inner_w * (t - start) / span

    def y_of(minutes: int) -> float:
        return TOP + inner_h * (1 - min(max(minutes, 0), cap_minutes) / cap_minutes)

    def hours(minutes: int) -> str:
        return escape(vocabulary.hours(minutes / 60, lang))

    out = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="chart-title" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12" fill="#222">',
        f'<title id="chart-title">{escape(y_title)}: {hours(points[-1]["used_minutes"])} / '
        f"{hours(cap_minutes)} ({_day(times[0])} – {_day(times[-1])})</title>",
    ]
    for i in range(TICKS + 1):  # the scale: gridlines and their hours
        minutes = cap_minutes * i // TICKS
        y = y_of(minutes)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.0f}" x2="{WIDTH - RIGHT}" y2="{y:.0f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.0f}" text-anchor="end">{hours(minutes)}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" stroke="#222"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}" stroke="#222"/>'
    )
    days = sorted({_day(t): t for t in (times[0], start + span / 2, times[-1])}.items(), key=lambda d: d[1])
    for label, t in days:  # the dates: first, middle, last decision
        x = x_of(t)
        anchor = "start" if x < LEFT + 30 else "end" if x > WIDTH - RIGHT - 30 else "middle"
        out.append(
            f'<line x1="{x:.0f}" y1="{TOP + inner_h}" x2="{x:.0f}" y2="{TOP + inner_h + 5}" stroke="#222"/>'
            f'<text x="{x:.0f}" y="{TOP + inner_h + 18}" text-anchor="{anchor}">{label}</text>'
        )
    out.append(
        f'<text x="{LEFT + inner_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" font-weight="bold">'
        f"{escape(x_title)}</text>"
        f'<text x="4" y="{TOP - 8}" font-weight="bold">{escape(y_title)}</text>'
    )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" stroke="#222" stroke-width="2" '
        f'stroke-dasharray="8 5"/><text x="{WIDTH - RIGHT}" y="{TOP - 6}" text-anchor="end">'
        f"{escape(cap_word)} {hours(cap_minutes)}</text>"
    )
    path, last_y = [], y_of(0)
    for t, p in zip(times, points, strict=True):
        x, y = x_of(t), y_of(p["used_minutes"])
        path.append(f"{x:.0f},{last_y:.0f} {x:.0f},{y:.0f}")
        last_y = y
    path.append(f"{WIDTH - RIGHT},{last_y:.0f}")
    out.append(
        f'<polyline points="{LEFT},{y_of(0):.0f} {" ".join(path)}" fill="none" stroke="#b71c1c" stroke-width="3"/>'
    )
    for t, p in zip(times, points, strict=True):  # a marker per decision, shaped so colour is not needed
        out.append(
            f'<rect x="{x_of(t) - 4:.0f}" y="{y_of(p["used_minutes"]) - 4:.0f}" width="8" height="8" '
            f'fill="#fff" stroke="#222" stroke-width="2"><title>{_day(t)}: '
            f"{hours(p['used_minutes'])}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)
