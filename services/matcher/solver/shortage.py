"""The shortage, measured: demand and what stayed uncovered, by skill and level, unit, province and
month; how it was covered; each expert's and contract's use; the bottlenecks (what one more hour
would bring, `value.py`). Pure: facts in, a `GapsReport` out.

Two sources give the same facts: the matcher's tables (`services.matcher.gaps`, the live system)
and a scenario with its plan (`from_plan`, `expertshare gaps SCENARIO.json`). Each request is one
`Demand`, counted once in every breakdown: a request asking for several skills is counted under
its main skill (the highest level asked; of equal levels, the first in the catalogue). Coverage is
whole: a request is covered when every slot has an expert (the engine plans whole requests), and
its hours and weight count as covered or uncovered together, so covered + uncovered = demand in
requests, hours and weight, in every row.

What was learnt (`learnt`): the hours of the trainees beside the experts (`trainee.py`), by the
slot's main skill and the commune of the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.matcher.solver.limits import weight
from services.matcher.solver.plan import Plan
from services.matcher.solver.value import HourValues
from shared import limits as L
from shared import messages as m
from shared.scenario import SKILLS, Request, Scenario


@dataclass(frozen=True)
class Cover:
    """One assignment covering a slot: how (mode), by whom (expert kind), under what contract."""

    mode: str
    expert_kind: str
    contract_kind: str
    hours: float
    # A community member learning beside the expert (`trainee.py`), and the slot's main skill.
    trainee: str = ""
    trainee_hours: float = 0.0
    skill: tuple[str, int] = ("none", 0)


@dataclass(frozen=True)
class Demand:
    request: Request
    month: str  # YYYY-MM: of its submission (live), of its deadline (a scenario)
    status: str  # covered, uncovered or cancelled
    covers: tuple[Cover, ...] = ()


@dataclass(frozen=True)
class Place:
    name: str
    province: str


def main_skill(r: Request) -> tuple[str, int]:
    """The skill a request is counted under: the highest level asked, of equal levels the first
    in the catalogue; ("none", 0) when it asks for no skill in particular."""
    asked: dict[str, int] = {}
    for slot in r.effective_slots():
        for skill, level in slot.skills.items():
            asked[skill] = max(level, asked.get(skill, 0))
    return skill_of(asked)


def skill_of(asked: Mapping[str, int]) -> tuple[str, int]:
    """Of a set of skills asked (a slot's), the one counted: as `main_skill`."""
    if not asked:
        return "none", 0
    order = list(SKILLS)
    skill = min(asked, key=lambda s: (-asked[s], order.index(s)))
    return skill, asked[skill]


def skill_label(skill: str, level: int, lang: str = "vi") -> str:
    if skill == "none":
        return "Không yêu cầu kỹ năng riêng" if lang == "vi" else "No particular skill"
    name = SKILLS.get(skill, (skill, skill))[0 if lang == "vi" else 1]
    return f"{name}, {'mức' if lang == 'vi' else 'level'} {level}"


def hours_of(r: Request) -> float:
    return sum(s.hours for s in r.effective_slots())


@dataclass
class _Sum:
    key: str
    label: str = ""
    n: list[int] = field(default_factory=lambda: [0, 0])  # covered, uncovered
    h: list[float] = field(default_factory=lambda: [0.0, 0.0])
    w: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, d: Demand) -> None:
        i = 0 if d.status == "covered" else 1
        self.n[i] += 1
        self.h[i] += hours_of(d.request)
        self.w[i] += weight(d.request.priority)

    def row(self) -> m.GapRow:
        return m.GapRow(
            key=self.key,
            label=self.label,
            requests=sum(self.n),
            hours=round(sum(self.h), 2),
            weight=sum(self.w),
            covered_requests=self.n[0],
            covered_hours=round(self.h[0], 2),
            covered_weight=self.w[0],
            uncovered_requests=self.n[1],
            uncovered_hours=round(self.h[1], 2),
            uncovered_weight=self.w[1],
        )


def _rows(sums: dict[str, _Sum], *, by_key: bool = False) -> tuple[list[m.GapRow], bool]:
    rows = [s.row() for s in sums.values()]
    rows.sort(key=(lambda x: x.key) if by_key else (lambda x: (-x.uncovered_weight, -x.weight, x.key)))
    return rows[: L.GAP_ROWS], len(rows) > L.GAP_ROWS


_Axis = Literal["mode", "expert_kind", "contract_kind"]  # how `CoverRow` groups the covered work


def measure(demands: Iterable[Demand], places: dict[str, Place]) -> dict[str, object]:
    """The breakdowns of a `GapsReport` (as its fields): every demand counted once in each."""
    total = _Sum("all")
    cancelled = 0
    by: dict[str, dict[str, _Sum]] = {k: {} for k in ("skill", "unit", "province", "month")}
    covered_by: dict[tuple[_Axis, str], list[float]] = defaultdict(lambda: [0, 0.0])
    learnt: dict[tuple[str, int, str], list[Any]] = defaultdict(lambda: [set(), 0, 0.0])
    for d in demands:
        if d.status == "cancelled":
            cancelled += 1
            continue
        place = places.get(d.request.unit, Place("", ""))
        skill, level = main_skill(d.request)
        keys = {
            "skill": (f"{skill}={level}" if level else skill, skill_label(skill, level)),
            "unit": (d.request.unit, place.name),
            "province": (place.province or "?", place.province),
            "month": (d.month, d.month),
        }
        total.add(d)
        for kind, (key, label) in keys.items():
            by[kind].setdefault(key, _Sum(key, label)).add(d)
        for c in d.covers:
            axes: tuple[tuple[_Axis, str], ...] = (
                ("mode", c.mode),
                ("expert_kind", c.expert_kind),
                ("contract_kind", c.contract_kind),
            )
            for axis, key in axes:
                covered_by[(axis, key)][0] += 1
                covered_by[(axis, key)][1] += c.hours
            if c.trainee:
                row = learnt[(*c.skill, d.request.unit)]
                row[0].add(c.trainee)
                row[1] += 1
                row[2] += c.trainee_hours
    out: dict[str, object] = {
        "total": total.row(),
        "cancelled": cancelled,
        "requests": sum(total.n) + cancelled,
        "truncated": False,
    }
    for kind, sums in by.items():
        rows, cut = _rows(sums, by_key=kind == "month")
        out[f"by_{kind}"] = rows
        out["truncated"] = bool(out["truncated"]) or cut
    out["covered_by"] = [
        m.CoverRow(by=axis, key=key, assignments=int(n), hours=round(h, 2))
        for (axis, key), (n, h) in sorted(covered_by.items())
    ]
    rows_learnt = sorted(
        (
            m.LearntRow(
                skill=skill,
                level=level,
                skill_label=skill_label(skill, level),
                unit=unit,
                unit_name=places.get(unit, Place("", "")).name,
                province=places.get(unit, Place("", "")).province,
                trainees=len(who),
                assignments=n,
                hours=round(h, 2),
            )
            for (skill, level, unit), (who, n, h) in learnt.items()
        ),
        key=lambda x: (-x.hours, x.skill, x.unit),
    )
    out["learnt"] = rows_learnt[: L.GAP_ROWS]
    out["truncated"] = bool(out["truncated"]) or len(rows_learnt) > L.GAP_ROWS
    return out


def bottlenecks(sc: Scenario, values: HourValues) -> tuple[list[m.HourValue], bool]:
    """Per main skill and level and unit: the best value of one more hour of a new expert there
    (on site in that unit, or remote), and the hours of work to be had at a positive value."""
    requests = {r.id: r for r in sc.requests}
    units = {u.id: u for u in sc.units}
    groups: dict[tuple[str, int, str], list[tuple[float, float, str, bool]]] = defaultdict(list)
    for (rid, k), per_hour in values.slot_hour.items():
        if per_hour <= 0:
            continue
        r = requests[rid]
        slot = r.effective_slots()[k]
        skill, level = main_skill(
            Request.model_validate({**r.model_dump(mode="json"), "skills": dict(slot.skills), "slots": None})
        )
        u = units.get(r.unit)
        # As `options.choose_mode` decides: remote when asked for, or either over a network not weak.
        remote = r.mode == "remote" or (r.mode == "either" and u is not None and u.network != "weak")
        groups[(skill, level, r.unit)].append((per_hour, slot.hours, rid, remote))
    rows = []
    for (skill, level, unit), found in groups.items():
        u = units.get(unit)
        best = max(v for v, _, _, _ in found)
        rows.append(
            m.HourValue(
                skill=skill,
                level=level,
                skill_label=skill_label(skill, level),
                unit=unit,
                unit_name=u.name if u else "",
                province=u.province if u else "",
                value_per_hour=round(best, 4),
                hours=round(sum(h for _, h, _, _ in found), 2),
                requests=len({rid for _, _, rid, _ in found}),
                remote_ok=all(remote for v, _, _, remote in found if v >= best - 1e-9),
            )
        )
    rows.sort(key=lambda x: (-x.value_per_hour, -x.hours, x.skill, x.unit))
    return rows[: L.GAP_ROWS], len(rows) > L.GAP_ROWS


def from_plan(sc: Scenario, plan: Plan, values: HourValues | None) -> m.GapsReport:
    """The report of a scenario planned by the engine: the plan's assignments are the cover."""
    experts = {e.id: e for e in sc.experts}
    contracts = {c.id: c for c in sc.contracts}
    requests = {r.id: r for r in sc.requests}
    by_request: dict[str, list[Cover]] = defaultdict(list)
    e_use: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    c_use: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for a in plan.assignments:
        e, c = experts[a.expert], contracts[a.contract]
        slot = requests[a.request].effective_slots()[a.slot]
        by_request[a.request].append(
            Cover(
                a.mode, e.kind, c.kind, a.minutes / 60, a.trainee or "", a.trainee_minutes / 60, skill_of(slot.skills)
            )
        )
        e_use[a.expert][0] += 1
        e_use[a.expert][1] += a.minutes / 60
        c_use[a.contract][0] += 1
        c_use[a.contract][1] += a.minutes / 60
        c_use[a.contract][2] += a.cost_vnd
    pinned: dict[str, int] = defaultdict(int)
    for p in sc.pinned:
        pinned[p.request] += 1
    demands = []
    for r in sc.requests:
        covers = tuple(by_request.get(r.id, ()))
        whole = len(covers) + pinned[r.id] >= len(r.effective_slots())
        demands.append(Demand(r, f"{r.deadline:%Y-%m}", "covered" if whole else "uncovered", covers))
    places = {u.id: Place(u.name, u.province) for u in sc.units}
    fields = measure(demands, places)
    hour = values.expert_hour if values else {}
    c_hour = values.contract_hour if values else {}
    fields["experts"] = sorted(
        (
            m.UseRow(
                id=e.id,
                name=e.name,
                kind=e.kind,
                assignments=int(e_use[e.id][0]),
                hours=round(e_use[e.id][1], 2),
                used_hours=round(e.committed_hours + e_use[e.id][1], 2),
                cap_hours=e.capacity_hours,
                used_pct=_pct(e.committed_hours + e_use[e.id][1], e.capacity_hours),
                hour_value=_round(hour.get(e.id)),
            )
            for e in sc.experts
        ),
        key=_busiest,
    )[: L.GAP_ROWS]
    fields["contracts"] = sorted(
        (
            m.UseRow(
                id=c.id,
                name=experts[c.expert].name,
                kind=c.kind,
                assignments=int(c_use[c.id][0]),
                hours=round(c_use[c.id][1], 2),
                used_hours=round(c.hours_used + c_use[c.id][1], 2),
                cap_hours=c.hours_cap,
                used_pct=_pct(c.hours_used + c_use[c.id][1], c.hours_cap),
                budget_used_vnd=c.budget_used_vnd + int(c_use[c.id][2]),
                budget_cap_vnd=c.budget_cap_vnd,
                hour_value=_round(c_hour.get(c.id)),
            )
            for c in sc.contracts
        ),
        key=_busiest,
    )[: L.GAP_ROWS]
    if values is not None and values.status == "solved":
        fields["bottlenecks"], cut = bottlenecks(sc, values)
        fields["truncated"] = bool(fields["truncated"]) or cut
        fields["values"] = "lp_duals"
    else:
        fields["values"] = values.status if values else "not asked"
    return m.GapsReport.model_validate(
        {"source": "scenario", "from_date": sc.horizon.start, "to_date": sc.horizon.end, **fields}
    )


def _pct(used: float, cap: float | None) -> float | None:
    return round(100 * used / cap, 1) if cap else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _busiest(row: m.UseRow) -> tuple[float, float, str]:
    return (-(row.hour_value or 0), -(row.used_pct or 0), row.id)
