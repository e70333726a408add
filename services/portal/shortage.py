"""The staff's shortage page, its data: the report of a period (`matcher.gaps.get`, with the time to
approval from `contracts.gaps.get`), the communes to put on the map, the hiring plan for a budget
(`matcher.hiring_plan.get`, signed as the staff member: the matcher checks the role), and the same
as CSV for spreadsheets. The pictures are `drawings`; the route only wires these together.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

from services.portal.bus import Bus, Unavailable
from services.portal.users import User
from services.portal.vocabulary import Said
from shared import endpoints as E
from shared import limits as L
from shared import messages as m
from shared import rpc
from shared.clock import local_today
from shared.csvcells import neutral
from shared.formatting import money

#: A plan solves for seconds (the joint model, then the engine twice): the portal waits this long.
HIRING_TIMEOUT_S = 90.0
GAPS_TIMEOUT_S = 60.0  # the report's LP: 3 s on a country
SHOWN = 20  # rows of each table on the page (the CSV has them all)
CHART_ROWS = 12


def period(params: Any) -> tuple[dt.date | None, dt.date | None, dict[str, Said]]:
    """`from` and `to` of the query string (YYYY-MM-DD, either may be left out), or the errors."""
    errors: dict[str, Said] = {}
    days: dict[str, dt.date | None] = {}
    for key, label in (("from", ("Từ ngày", "From")), ("to", ("Đến ngày", "To"))):
        raw = str(params.get(key) or "").strip()[:20]
        try:
            days[key] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            days[key] = None
            errors[key] = Said(f"{label[0]}: cần là một ngày (năm-tháng-ngày)", f"{label[1]}: not a date (YYYY-MM-DD)")
    start, end = days["from"], days["to"]
    if not errors:
        try:
            m.GetGaps(from_date=start, to_date=end).period(local_today())
        except ValueError:
            if start and end and end < start:
                errors["to"] = Said("Đến ngày: trước ngày bắt đầu", "To: before the first day")
            else:
                errors["from"] = Said(
                    f"Khoảng thời gian: tối đa {L.GAP_DAYS} ngày", f"The period: at most {L.GAP_DAYS} days"
                )
    return (None, None, errors) if errors else (start, end, errors)


async def report(bus: Bus, start: dt.date | None, end: dt.date | None) -> m.GapsReport:
    q = m.GetGaps(from_date=start, to_date=end)
    parts = []
    for endpoint in (E.GAPS, E.CONTRACTS_GAPS):
        reply = await bus.call(endpoint.subject, q, timeout=GAPS_TIMEOUT_S)
        if not reply.ok:
            raise Unavailable(reply.error or f"{endpoint.subject} refused")
        parts.append(rpc.read(endpoint, reply))
    return parts[0].model_copy(update={"approval": parts[1].approval})


def places(r: m.GapsReport, units: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The communes of the report's provinces: (those with coordinates, for the map; those without)."""
    rows = {row.key: row for row in r.by_unit}
    provinces = {units.get(k, {}).get("province") for k in rows} - {None}
    on_map, missing = [], []
    for uid, u in units.items():
        if uid not in rows and u.get("province") not in provinces:
            continue
        row = rows.get(uid) or m.GapRow(key=uid, label=u.get("name", ""))
        place: dict[str, Any] = {
            "id": uid,
            "name": u.get("name") or uid,
            "weight": row.uncovered_weight,
            "requests": row.uncovered_requests,
            "hours": row.uncovered_hours,
        }
        loc = u.get("location") or {}
        if loc.get("lat") is not None and loc.get("lon") is not None:
            on_map.append({**place, "lat": float(loc["lat"]), "lon": float(loc["lon"])})
        else:
            missing.append(place)
    missing.sort(key=lambda p: (-p["weight"], p["name"]))
    return on_map, missing


_DONG = re.compile(r"^\d{1,3}([.\s]\d{3})*$|^\d+$")


def budget(raw: str) -> tuple[int | None, Said | None]:
    """A budget typed the Vietnamese way (50.000.000, 50 000 000 đ) in whole dong."""
    text = re.sub(r"\s*(₫|đ|đồng|vnd|VND)\s*$", "", raw.strip()[:40])
    if not text or not _DONG.match(text):
        return None, Said(
            "Kinh phí: cần là một số tiền bằng đồng, ví dụ 50.000.000",
            "Budget: a sum in dong is needed, e.g. 50.000.000",
        )
    value = int(re.sub(r"[.\s]", "", text))
    if value <= 0:
        return None, Said("Kinh phí: cần lớn hơn 0 đồng", "Budget: more than 0 dong is needed")
    if value > L.HIRING_BUDGET_VND:
        top = money(L.HIRING_BUDGET_VND)
        return None, Said(f"Kinh phí: tối đa {top}", f"Budget: at most {top}")
    return value, None


async def hiring(bus: Bus, user: User, budget_vnd: int) -> tuple[m.HiringPlanView | None, Said | None]:
    q = m.GetHiringPlan(budget_vnd=budget_vnd)
    reply = await bus.command(user, E.HIRING_PLAN.subject, q, timeout=HIRING_TIMEOUT_S)
    if not reply.ok:
        if "another hiring plan" in (reply.error or ""):
            return None, Said(
                "Một kế hoạch tuyển khác đang được tính: hãy thử lại sau một phút.",
                "Another hiring plan is being computed: try again in a minute.",
            )
        raise Unavailable(reply.error or "the hiring plan was refused")
    return rpc.read(E.HIRING_PLAN, reply), None


GAP_COLUMNS = (
    "section",
    "key",
    "label",
    "requests",
    "hours",
    "weight",
    "covered_requests",
    "covered_hours",
    "covered_weight",
    "uncovered_requests",
    "uncovered_hours",
    "uncovered_weight",
    "unit",
    "unit_name",
    "province",
    "value_per_hour",
    "remote_ok",
)


def gaps_csv(r: m.GapsReport) -> str:
    """One table: the total, a row per skill, commune, province and month, and per bottleneck."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=GAP_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()

    def put(section: str, data: dict[str, Any]) -> None:
        w.writerow({k: neutral(v) for k, v in {**data, "section": section}.items() if v is not None})

    put("total", r.total.model_dump())
    for section in ("by_skill", "by_unit", "by_province", "by_month"):
        for row in getattr(r, section):
            put(section, row.model_dump())
    for b in r.bottlenecks:
        put(
            "bottleneck",
            {
                **b.model_dump(),
                "key": f"{b.skill}={b.level}",
                "label": b.skill_label,
                "hours": b.hours,
                "requests": b.requests,
            },
        )
    return out.getvalue()


PLAN_COLUMNS = (
    "section",
    "candidate",
    "expert",
    "contract",
    "where",
    "where_name",
    "skills",
    "cost_vnd",
    "requests",
    "request_ids",
    "weight",
    "budget_vnd",
    "covered_weight_before",
    "covered_weight_after",
    "gain",
)


def plan_csv(p: m.HiringPlanView, units: dict[str, dict[str, Any]]) -> str:
    """A row per hire, then the plan's totals and the simple rule's, for the same budget."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=PLAN_COLUMNS, lineterminator="\n")
    w.writeheader()
    for h in p.hires:
        w.writerow(
            {
                k: neutral(v)
                for k, v in {
                    "section": "hire",
                    "candidate": h.candidate,
                    "expert": h.expert,
                    "contract": h.contract,
                    "where": h.where,
                    "where_name": units.get(h.where, {}).get("name", ""),
                    "skills": ";".join(f"{k}={v}" for k, v in h.skills.items()),
                    "cost_vnd": h.cost_vnd,
                    "requests": len(h.covers.requests),
                    "request_ids": ";".join(h.covers.requests),
                    "weight": h.covers.weight,
                }.items()
            }
        )
    w.writerow(
        {
            "section": "plan",
            "cost_vnd": p.cost_vnd,
            "budget_vnd": p.budget_vnd,
            "covered_weight_before": p.covered_weight_before,
            "covered_weight_after": p.covered_weight_after,
            "gain": p.gain,
        }
    )
    if p.simple_rule is not None:
        r = p.simple_rule
        w.writerow(
            {
                "section": "simple_rule",
                "candidate": ";".join(r.hires),
                "cost_vnd": r.cost_vnd,
                "budget_vnd": p.budget_vnd,
                "covered_weight_before": p.covered_weight_before,
                "covered_weight_after": r.covered_weight_after,
                "gain": r.covered_weight_after - p.covered_weight_before,
            }
        )
    return out.getvalue()
