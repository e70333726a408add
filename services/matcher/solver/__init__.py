"""The matching engine: a pure function from a `Scenario` to a `Plan`.

`solve` builds the eligible options, applies the pins, starts from the greedy plan (a verified
feasible plan within a moment, whatever happens) and improves it with the CP-SAT model within the
time limit. No database, broker or logging setup in here.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from services.matcher.solver import model as cpsat
from services.matcher.solver.explain import explanation, unassigned
from services.matcher.solver.greedy import greedy
from services.matcher.solver.limits import DEFAULT_WEIGHTS, Limits, weight
from services.matcher.solver.options import Option, Travel, all_options, options_for_slot
from services.matcher.solver.plan import Assignment, Objective, Plan, Unassigned
from shared.scenario import Scenario

__all__ = ["DEFAULT_WEIGHTS", "Assignment", "Objective", "Plan", "Unassigned", "solve"]


def _pin_options(sc: Scenario) -> tuple[list[Option], str]:
    travel = Travel(sc)
    requests = {r.id: r for r in sc.requests}
    experts = {e.id: e for e in sc.experts}
    contracts = {c.id: c for c in sc.contracts}
    pins: list[Option] = []
    for p in sc.pinned:
        r = requests[p.request]
        found = list(options_for_slot(sc, travel, r, p.slot, r.effective_slots()[p.slot], [experts[p.expert]],
                                      {p.expert: [contracts[p.contract]]}, set()))
        if not found:
            return [], f"pin {p.request}/{p.expert}/{p.contract} breaks a rule (skills, mode, travel or contract)"
        pins.append(found[0])
    limits = Limits.of(sc)
    for o in pins:
        limits.take(o)
    over = limits.negative()
    return pins, (f"pinned assignments no longer fit: {over}" if over else "")


def covered_weight(sc: Scenario, chosen: list[Option], weights: dict[int, int] | None) -> int:
    filled = Counter(o.request for o in chosen)
    return sum(weight(r.priority, weights) for r in sc.requests if filled[r.id] == len(r.effective_slots()))


def solve(sc: Scenario, *, time_limit_s: float = 10.0, workers: int = 2, seed: int = 0,
          weights: dict[int, int] | None = None) -> Plan:
    began = time.monotonic()
    pins, problem = _pin_options(sc)
    if problem:
        return Plan(status="infeasible", reason=problem)
    options = all_options(sc)
    start = greedy(sc, options, pins, weights)
    limits = Limits.of(sc)
    for p in pins:
        limits.take(p)
    model = cpsat.Model(sc, options, pins, limits, weights)
    left = time_limit_s - (time.monotonic() - began)
    solved = cpsat.run(model, start, left, workers, seed)
    chosen, optimal = solved.chosen, solved.optimal
    if covered_weight(sc, chosen, weights) < covered_weight(sc, start, weights):
        chosen, optimal = start, False
    return _plan(sc, options, chosen, optimal, max(solved.bound, covered_weight(sc, chosen, weights)),
                 weights, {"phases": solved.phases, "seconds": round(time.monotonic() - began, 3)})


def _plan(sc: Scenario, options: list[Option], chosen: list[Option], optimal: bool, bound: int,
          weights: dict[int, int] | None, info: dict[str, object]) -> Plan:
    per_slot: dict[tuple[str, int], int] = Counter((o.request, o.slot) for o in options)
    limits = Limits.of(sc)
    for o in chosen:
        limits.take(o)
    filled = Counter(o.request for o in chosen)
    by_request: dict[str, list[Option]] = defaultdict(list)
    for o in options:
        by_request[o.request].append(o)
    gaps = [unassigned(sc, r, by_request.get(r.id, []), limits)
            for r in sc.requests if filled[r.id] < len(r.effective_slots())]
    assignments = [Assignment(request=o.request, slot=o.slot, expert=o.expert, contract=o.contract, mode=o.mode,
                              travel_minutes=o.travel, minutes=o.minutes, cost_vnd=o.cost,
                              explanation=explanation(o, per_slot[(o.request, o.slot)]))
                   for o in sorted(chosen, key=lambda o: (o.request, o.slot))]
    return Plan(status="optimal" if optimal else "feasible", assignments=assignments, unassigned=gaps,
                objective=_objective(sc, chosen, bound, weights), solver=info)


def _objective(sc: Scenario, chosen: list[Option], bound: int, weights: dict[int, int] | None) -> Objective:
    used: Counter[str] = Counter()
    for o in chosen:
        used[o.expert] += o.minutes
    util = max((100 * used[e.id] / max(1, round(e.capacity_hours * 60)) for e in sc.experts), default=0.0)
    covered = {o.request for o in chosen}
    unit_of = {r.id: r.unit for r in sc.requests}
    return Objective(covered_weight=covered_weight(sc, chosen, weights), upper_bound=bound,
                     cost_vnd=sum(o.cost for o in chosen), travel_minutes=sum(o.travel for o in chosen),
                     max_utilization_pct=round(util, 1), units_covered=len({unit_of[r] for r in covered}),
                     units_requesting=len(set(unit_of.values())))
