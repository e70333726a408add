"""An independent checker of plans, written apart from the model: it recomputes travel, minutes and
costs from the scenario itself and checks every hard rule. Empty list = a valid plan.

A broken limit says which one in plain words, with the figures (what is left, what the plan needs):
staff read these sentences when a manual assignment is refused (`overrides`)."""

from __future__ import annotations

import math
from collections import defaultdict

from services.matcher.solver.plan import Plan
from shared.formatting import hm_left as hm
from shared.formatting import money_left as dong
from shared.scenario import Scenario


def _travel(sc: Scenario, a: str, b: str) -> int | None:
    if a == b:
        return 0
    for t in sc.travel_minutes:
        if {t.from_unit, t.to_unit} == {a, b}:
            return t.minutes
    units = {u.id: u for u in sc.units}
    la, lb = units[a].location, units[b].location
    if la is None or lb is None:
        return None
    p1, p2 = math.radians(la.lat), math.radians(lb.lat)
    dp, dl = p2 - p1, math.radians(lb.lon - la.lon)
    km = 2 * 6371.0 * math.asin(math.sqrt(math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2))
    return math.ceil(km * 1.6 / 30.0 * 60)


def validate(sc: Scenario, plan: Plan) -> list[str]:
    errs: list[str] = []
    req = {r.id: r for r in sc.requests}
    exp = {e.id: e for e in sc.experts}
    con = {c.id: c for c in sc.contracts}
    unit = {u.id: u for u in sc.units}
    banned = {(x.request, x.expert) for x in sc.excluded}
    pinned = {(p.request, p.slot, p.expert, p.contract) for p in sc.pinned}
    seen_slot: set[tuple[str, int]] = set()
    seen_pair: set[tuple[str, str]] = set()
    e_min: dict[str, int] = defaultdict(int)
    c_min: dict[str, int] = defaultdict(int)
    c_vnd: dict[str, int] = defaultdict(int)
    c_n: dict[str, int] = defaultdict(int)
    for a in plan.assignments:
        where = f"{a.request}/{a.slot} -> {a.expert}"
        r, e, c = req.get(a.request), exp.get(a.expert), con.get(a.contract)
        if r is None or e is None or c is None:
            errs.append(f"{where}: unknown request, expert or contract")
            continue
        slots = r.slots or None
        if a.slot >= (len(slots) if slots else 1):
            errs.append(f"{where}: no such slot")
            continue
        need = slots[a.slot] if slots else r
        if (a.request, a.slot) in seen_slot:
            errs.append(f"{where}: slot filled twice")
        if (a.request, a.expert) in seen_pair:
            errs.append(f"{where}: expert takes two slots of one request")
        seen_slot.add((a.request, a.slot))
        seen_pair.add((a.request, a.expert))
        if (a.request, a.expert) in banned and (a.request, a.slot, a.expert, a.contract) not in pinned:
            errs.append(f"{where}: excluded pair")
        for skill, level in need.skills.items():
            if e.skills.get(skill, 0) < level:
                errs.append(f"{where}: lacks {skill} {level}")
        if r.language and r.language not in e.languages:
            errs.append(f"{where}: does not speak {r.language}")
        if c.expert != e.id:
            errs.append(f"{where}: contract {c.id} belongs to {c.expert}")
        if not (c.start <= r.deadline and c.end >= sc.horizon.start):
            errs.append(f"{where}: contract {c.id} not active before the deadline")
        if c.scope_units is not None and r.unit not in c.scope_units:
            errs.append(f"{where}: contract {c.id} does not cover {r.unit}")
        t = _travel(sc, e.home_unit, r.unit)
        remote_ok = e.remote and (r.mode == "remote" or (r.mode == "either" and unit[r.unit].network != "weak"))
        if a.mode == "remote" and not remote_ok:
            errs.append(f"{where}: cannot be remote")
        if a.mode == "onsite":
            if r.mode == "remote" or remote_ok:
                errs.append(f"{where}: should be remote")
            if not e.onsite or t is None or t > e.max_travel_minutes:
                errs.append(f"{where}: cannot travel there")
        travel = t if a.mode == "onsite" and t is not None else 0
        minutes = round(need.hours * 60) + 2 * travel
        cost = -(-minutes * c.hourly_rate_vnd // 60)
        if (a.travel_minutes, a.minutes, a.cost_vnd) != (travel, minutes, cost):
            errs.append(
                f"{where}: figures {a.travel_minutes}/{a.minutes}/{a.cost_vnd} should be {travel}/{minutes}/{cost}"
            )
        e_min[e.id] += minutes
        c_min[c.id] += minutes
        c_vnd[c.id] += cost
        c_n[c.id] += 1
    errs += _trainees(sc, plan, e_min)
    for p in sc.pinned:
        pin = (p.request, p.slot, p.expert, p.contract)
        if not any((a.request, a.slot, a.expert, a.contract) == pin for a in plan.assignments):
            errs.append(f"pin {p.request}/{p.slot} -> {p.expert} not kept")
    for eid, used in e_min.items():
        e = exp[eid]
        left = round(e.capacity_hours * 60) - round(e.committed_hours * 60)
        if used > left:
            errs.append(f"expert {eid}: time: {hm(left)} left in the horizon, this work needs {hm(used)}")
    for cid in c_min:
        c = con[cid]
        left = round(c.hours_cap * 60) - round(c.hours_used * 60)
        if c_min[cid] > left:
            errs.append(f"contract {cid}: hours: {hm(left)} left, this assignment needs {hm(c_min[cid])}")
        if c.budget_cap_vnd is not None and c_vnd[cid] > c.budget_cap_vnd - c.budget_used_vnd:
            errs.append(
                f"contract {cid}: budget: {dong(c.budget_cap_vnd - c.budget_used_vnd)} left, "
                f"this assignment needs {dong(c_vnd[cid])}"
            )
        if c_n[cid] + c.active_assignments > c.max_concurrent:
            errs.append(
                f"contract {cid}: at most {c.max_concurrent} task(s) at once, {c.active_assignments} already running"
            )
    return errs


def _trainees(sc: Scenario, plan: Plan, e_min: dict[str, int]) -> list[str]:
    """A trainee (`trainee.py`): asked for by the request, a community member of its commune with
    something to learn in the slot, none of its experts, once per request, not excluded; the slot's
    hours taken from their time (added to `e_min`; a contract pays nothing for them)."""
    errs: list[str] = []
    req = {r.id: r for r in sc.requests}
    exp = {e.id: e for e in sc.experts}
    banned = {(x.request, x.expert) for x in sc.excluded}
    staff: dict[str, set[str]] = defaultdict(set)
    for a in plan.assignments:
        staff[a.request].add(a.expert)
    seen: set[tuple[str, str]] = set()
    for a in plan.assignments:
        if a.trainee is None:
            if a.trainee_minutes:
                errs.append(f"{a.request}/{a.slot}: trainee minutes without a trainee")
            continue
        where = f"{a.request}/{a.slot} trainee {a.trainee}"
        r, t = req.get(a.request), exp.get(a.trainee)
        if r is None or t is None or a.slot >= len(r.effective_slots()):
            errs.append(f"{where}: unknown request, slot or expert")
            continue
        slot = r.effective_slots()[a.slot]
        if not r.trainee:
            errs.append(f"{where}: the request asks for no trainee")
        if t.kind != "community":
            errs.append(f"{where}: is {t.kind}, a trainee must be a community member")
        if t.home_unit != r.unit:
            errs.append(f"{where}: lives in {t.home_unit}, not in the request's commune {r.unit}")
        if all(t.skills.get(k, 0) >= v for k, v in slot.skills.items()):
            errs.append(f"{where}: already has the slot's skills, nothing to learn")
        if a.trainee in staff[a.request] or (a.request, a.trainee) in seen:
            errs.append(f"{where}: already works on this request")
        if (a.request, a.trainee) in banned:
            errs.append(f"{where}: excluded pair")
        if a.trainee_minutes != round(slot.hours * 60):
            errs.append(f"{where}: {a.trainee_minutes} minutes, should be {round(slot.hours * 60)}")
        seen.add((a.request, a.trainee))
        e_min[a.trainee] += a.trainee_minutes
    return errs
