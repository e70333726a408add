"""The matching engine: a pure function from a `Scenario` to a `Plan`.

1. Every eligible option, as arrays (`table.py`); the pins taken out (`problem.py`).
2. The greedy baseline: a verified feasible plan within a moment, whatever happens.
3. Small problems: CP-SAT on every option; its own bound proves optimality.
   Large ones: the LP relaxation by column generation (`relax.py`) prices every option; its
   duals give two proven upper bounds (`relax.py`, `bound.py`: the tighter is reported); the LP
   solution rounded is the better start; then CP-SAT on the options the LP uses, from there.
4. Phase 2 of the model: at that coverage, the cheapest, least travelled, fairest, most local plan.

No database, broker or logging setup in here.
"""

from __future__ import annotations

import math
import time

import numpy as np

from services.matcher.solver import bound, greedy, relax
from services.matcher.solver import model as cpsat
from services.matcher.solver.limits import DEFAULT_WEIGHTS, Limits
from services.matcher.solver.options import Option, Travel, options_for_slot
from services.matcher.solver.plan import Assignment, Objective, Plan, Unassigned
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.report import build_plan
from services.matcher.solver.table import build
from shared.scenario import Scenario

__all__ = ["DEFAULT_WEIGHTS", "Assignment", "Objective", "Plan", "Unassigned", "solve"]

#: Up to this many options the model gets them all and proves optimality itself.
FULL_MODEL_OPTIONS = 15_000
#: Share of the time limit the LP relaxation may use on a large problem.
LP_SHARE = 0.5
#: Seconds kept at the end to explain the plan.
REPORT_RESERVE_S = 0.3


def pin_options(sc: Scenario) -> tuple[list[Option], str]:
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


def solve(sc: Scenario, *, time_limit_s: float = 10.0, workers: int = 2, seed: int = 0,
          weights: dict[int, int] | None = None) -> Plan:
    began = time.monotonic()
    pins, problem = pin_options(sc)
    if problem:
        return Plan(status="infeasible", reason=problem)
    p = build_problem(sc, build(sc), pins, weights)
    best = greedy.baseline(p)
    info: dict[str, object] = {"options": len(p.table), "baseline": p.covered(best)}
    proven: int | None = None
    if p.n <= FULL_MODEL_OPTIONS:
        columns = np.arange(p.n)
    else:
        rx = relax.relax(p, best, began + LP_SHARE * time_limit_s)
        if rx.rounds:
            proven = math.floor(min(rx.bound, bound.evaluate(p, rx.slot_value)) + 1e-6)
            rounded = greedy.rounded(p, rx.price, rx.columns, rx.x)
            best = max(best, rounded, key=p.covered)
            info.update(rounded=p.covered(rounded))
        columns = np.union1d(rx.columns[rx.x > 1e-6], np.asarray(best, dtype=np.int64))
        info.update(lp_rounds=rx.rounds, lp_converged=rx.converged, lp_value=round(rx.lp_value, 3),
                    model_options=int(columns.size))
    left = time_limit_s - (time.monotonic() - began) - REPORT_RESERVE_S
    solved = cpsat.run(cpsat.Model(p, columns), best, 0.75 * left, 0.25 * left, workers, seed)
    chosen = solved.chosen if solved.covered >= p.covered(best) else best
    covered = p.covered(chosen)
    upper = _upper_bound(p, solved, proven, covered)
    info.update(phases=solved.phases, seconds=round(time.monotonic() - began, 3))
    return build_plan(p, chosen, status="optimal" if covered == upper else "feasible", bound=upper, info=info)


def _upper_bound(p: Problem, solved: cpsat.Solved, proven: int | None, covered: int) -> int:
    """CP-SAT's bound when its model had every option; else the relaxations'. Never above what
    could be covered at all, never below a plan that exists."""
    upper = int(p.weight[p.free_request].sum()) + p.pinned_weight
    if proven is not None:
        upper = min(upper, proven)
    elif solved.bound >= 0 and solved.model_is_complete:
        upper = min(upper, solved.bound)
    return max(upper, covered)
