"""A contract's use over time, drawn as an inline SVG (no JavaScript, a few hundred bytes).

The points come from the audit trail: every ledger movement's entry names the contract line it
charged and the minutes left under the cap after it, so used = cap - left at each decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

WIDTH, HEIGHT, PAD = 600, 180, 30


def use_over_time(entries: list[dict[str, Any]], contract_id: str, cap_minutes: int) -> list[dict[str, Any]]:
    """[{at, used_minutes, action}] in order, for each movement under the contract."""
    points = []
    for e in entries:
        line = (e.get("detail") or {}).get("contract_line") or {}
        if line.get("contract") == contract_id and line.get("left_minutes_after") is not None:
            points.append({"at": e["at"], "used_minutes": cap_minutes - int(line["left_minutes_after"]),
                           "action": e["action"]})
    return points


def svg(points: list[dict[str, Any]], cap_minutes: int) -> str:
    """A step line of hours used or reserved against the cap (the top of the box)."""
    if not points or cap_minutes <= 0:
        return ""
    times = [dt.datetime.fromisoformat(p["at"]).timestamp() for p in points]
    start, span = times[0], max(times[-1] - times[0], 1.0)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(t: float, used: int) -> tuple[float, float]:
        return (PAD + inner_w * (t - start) / span, PAD + inner_h * (1 - min(used, cap_minutes) / cap_minutes))

    path, last_y = [], xy(start, 0)[1]
    for t, p in zip(times, points, strict=True):
        x, y = xy(t, p["used_minutes"])
        path.append(f"{x:.0f},{last_y:.0f} {x:.0f},{y:.0f}")
        last_y = y
    path.append(f"{WIDTH - PAD},{last_y:.0f}")
    return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">'
            f'<rect x="{PAD}" y="{PAD}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>'
            f'<polyline points="{PAD},{PAD + inner_h} {" ".join(path)}" fill="none" stroke="#b71c1c" '
            f'stroke-width="2"/></svg>')
