"""An independent checker of plans, written apart from the model: it recomputes travel, minutes and
costs from the scenario itself and checks every hard rule. Empty list = a valid plan.

Each broken rule is a `Violation` (`shared.rules`): its code, the assignment, expert or contract it
concerns, and the figures (for a broken limit: what is left, what the plan needs). Staff read them,
rendered from the rules' catalogue, when a manual assignment is refused (`overrides`)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from services.matcher.solver.plan import Assignment, Plan
from shared.rules import Rule, Violation, dong, hm
from shared.scenario import Contract, Expert, Request, Scenario, Slot

__all__ = ["Violation", "dong", "hm", "validate"]


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


@dataclass
class _Tally:
    """What the plan uses, by expert and contract, for the limits checked once it is read."""

    e_min: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    c_min: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    c_vnd: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    c_n: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def validate(sc: Scenario, plan: Plan) -> list[Violation]:
    req = {r.id: r for r in sc.requests}
    exp = {e.id: e for e in sc.experts}
    con = {c.id: c for c in sc.contracts}
    network = {u.id: u.network for u in sc.units}
    banned = {(x.request, x.expert) for x in sc.excluded}
    pinned = {(p.request, p.slot, p.expert, p.contract) for p in sc.pinned}
    seen_slot: set[tuple[str, int]] = set()
    seen_pair: set[tuple[str, str]] = set()
    tally = _Tally()
    out: list[Violation] = []
    for a in plan.assignments:
        r, e, c = req.get(a.request), exp.get(a.expert), con.get(a.contract)
        if r is None or e is None or c is None:
            out.append(_of(a, Rule.UNKNOWN))
            continue
        if a.slot >= len(r.effective_slots()):
            out.append(_of(a, Rule.NO_SLOT))
            continue
        if (a.request, a.slot) in seen_slot:
            out.append(_of(a, Rule.SLOT_TWICE))
        if (a.request, a.expert) in seen_pair:
            out.append(_of(a, Rule.EXPERT_TWICE))
        seen_slot.add((a.request, a.slot))
        seen_pair.add((a.request, a.expert))
        if (a.request, a.expert) in banned and (a.request, a.slot, a.expert, a.contract) not in pinned:
            out.append(_of(a, Rule.EXCLUDED))
        need = r.slots[a.slot] if r.slots else r
        t = _travel(sc, e.home_unit, r.unit)
        out += _person(a, r, e, need) + _contract(sc, a, r, e, c) + _mode(a, r, e, network[r.unit], t)
        out += _figures(a, c, need, t, tally)
    out += _trainees(sc, plan, tally.e_min)
    out += _pins(sc, plan)
    return out + _limits(exp, con, tally)


def _of(a: Assignment, rule: Rule, **detail: object) -> Violation:
    """A violation about assignment `a`, by its rule and figures."""
    return Violation(rule, a.request, a.slot, a.expert, a.contract, detail=detail)


def _person(a: Assignment, r: Request, e: Expert, need: Request | Slot) -> list[Violation]:
    """The expert fits the work: the skills at their levels, the language."""
    out = [
        _of(a, Rule.SKILL, skill=skill, level=level)
        for skill, level in need.skills.items()
        if e.skills.get(skill, 0) < level
    ]
    if r.language and r.language not in e.languages:
        out.append(_of(a, Rule.LANGUAGE, language=r.language))
    return out


def _contract(sc: Scenario, a: Assignment, r: Request, e: Expert, c: Contract) -> list[Violation]:
    """The contract is the expert's, active before the deadline, and covers the request's unit."""
    out = []
    if c.expert != e.id:
        out.append(_of(a, Rule.CONTRACT_OWNER, owner=c.expert))
    if not (c.start <= r.deadline and c.end >= sc.horizon.start):
        out.append(_of(a, Rule.CONTRACT_DATES))
    if c.scope_units is not None and r.unit not in c.scope_units:
        out.append(_of(a, Rule.CONTRACT_SCOPE, unit=r.unit))
    return out


def _mode(a: Assignment, r: Request, e: Expert, network: str, t: int | None) -> list[Violation]:
    """Remote where it may be remote; on site only where it cannot, and within travel range (`t`)."""
    remote_ok = e.remote and (r.mode == "remote" or (r.mode == "either" and network != "weak"))
    out = []
    if a.mode == "remote" and not remote_ok:
        out.append(_of(a, Rule.MODE_REMOTE))
    if a.mode == "onsite":
        if r.mode == "remote" or remote_ok:
            out.append(_of(a, Rule.MODE_ONSITE))
        if not e.onsite or t is None or t > e.max_travel_minutes:
            out.append(_of(a, Rule.TRAVEL))
    return out


def _figures(a: Assignment, c: Contract, need: Request | Slot, t: int | None, tally: _Tally) -> list[Violation]:
    """Travel, minutes and cost as the scenario gives them; what it uses is counted in `tally`."""
    travel = t if a.mode == "onsite" and t is not None else 0
    minutes = round(need.hours * 60) + 2 * travel
    cost = -(-minutes * c.hourly_rate_vnd // 60)
    tally.e_min[a.expert] += minutes
    tally.c_min[c.id] += minutes
    tally.c_vnd[c.id] += cost
    tally.c_n[c.id] += 1
    if (a.travel_minutes, a.minutes, a.cost_vnd) == (travel, minutes, cost):
        return []
    got = {"travel": a.travel_minutes, "minutes": a.minutes, "cost": a.cost_vnd}
    return [_of(a, Rule.FIGURES, **got, want_travel=travel, want_minutes=minutes, want_cost=cost)]


def _pins(sc: Scenario, plan: Plan) -> list[Violation]:
    """Approved work stays in the plan as it was approved."""
    made = {(a.request, a.slot, a.expert, a.contract) for a in plan.assignments}
    return [
        Violation(Rule.PIN, p.request, p.slot, p.expert, p.contract)
        for p in sc.pinned
        if (p.request, p.slot, p.expert, p.contract) not in made
    ]


def _limits(exp: dict[str, Expert], con: dict[str, Contract], tally: _Tally) -> list[Violation]:
    """The expert's time and the contract's hours, budget and concurrent tasks, over the whole plan."""
    out = []
    for eid, used in tally.e_min.items():
        e = exp[eid]
        left = round(e.capacity_hours * 60) - round(e.committed_hours * 60)
        if used > left:
            out.append(Violation(Rule.EXPERT_CAPACITY, expert=eid, detail={"left_min": left, "needs_min": used}))
    for cid, used in tally.c_min.items():
        c = con[cid]
        left = round(c.hours_cap * 60) - round(c.hours_used * 60)
        if used > left:
            out.append(Violation.on_contract(Rule.CONTRACT_HOURS, cid, c.expert, left_min=left, needs_min=used))
        if c.budget_cap_vnd is not None and tally.c_vnd[cid] > c.budget_cap_vnd - c.budget_used_vnd:
            money = {"left_vnd": c.budget_cap_vnd - c.budget_used_vnd, "needs_vnd": tally.c_vnd[cid]}
            out.append(Violation.on_contract(Rule.CONTRACT_BUDGET, cid, c.expert, **money))
        if tally.c_n[cid] + c.active_assignments > c.max_concurrent:
            tasks = {"max": c.max_concurrent, "running": c.active_assignments}
            out.append(Violation.on_contract(Rule.CONTRACT_CONCURRENCY, cid, c.expert, **tasks))
    return out


def _trainees(sc: Scenario, plan: Plan, e_min: dict[str, int]) -> list[Violation]:
    """A trainee (`trainee.py`): asked for by the request, a community member of its commune with
    something to learn in the slot, none of its experts, once per request, not excluded; the slot's
    hours taken from their time (added to `e_min`; a contract pays nothing for them)."""
    out: list[Violation] = []
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
                out.append(Violation(Rule.TRAINEE_MINUTES_ALONE, a.request, a.slot))
            continue
        r, t = req.get(a.request), exp.get(a.trainee)
        if r is None or t is None or a.slot >= len(r.effective_slots()):
            out.append(Violation(Rule.TRAINEE_UNKNOWN, a.request, a.slot, trainee=a.trainee))
            continue
        works = a.trainee in staff[a.request] or (a.request, a.trainee) in seen
        out += _trainee(a, r, t, works, (a.request, a.trainee) in banned)
        seen.add((a.request, a.trainee))
        e_min[a.trainee] += a.trainee_minutes
    return out


def _trainee(a: Assignment, r: Request, t: Expert, works: bool, banned: bool) -> list[Violation]:
    """One trainee against the request and slot they learn in (`works`: already on the request)."""
    slot = r.effective_slots()[a.slot]

    def v(rule: Rule, **detail: object) -> Violation:
        return Violation(rule, a.request, a.slot, trainee=a.trainee, detail=detail)

    out = []
    if not r.trainee:
        out.append(v(Rule.TRAINEE_NOT_ASKED))
    if t.kind != "community":
        out.append(v(Rule.TRAINEE_KIND, kind=t.kind))
    if t.home_unit != r.unit:
        out.append(v(Rule.TRAINEE_HOME, home=t.home_unit, unit=r.unit))
    if all(t.skills.get(k, 0) >= lvl for k, lvl in slot.skills.items()):
        out.append(v(Rule.TRAINEE_NOTHING_TO_LEARN))
    if works:
        out.append(v(Rule.TRAINEE_ALREADY_WORKS))
    if banned:
        out.append(v(Rule.TRAINEE_EXCLUDED))
    if a.trainee_minutes != round(slot.hours * 60):
        out.append(v(Rule.TRAINEE_MINUTES, minutes=a.trainee_minutes, want=round(slot.hours * 60)))
    return out
