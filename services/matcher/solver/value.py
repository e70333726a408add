"""What one more hour is worth: the LP relaxation's marginal values, by slot, expert and contract.

The engine's coverage LP (`relax.py`: maximise the covered priority weight, every option a
fraction in [0, 1], every limit row as in `Problem.limit_rows`) is solved here once more, whole
(every option, no column generation), with two differences that make its duals speak about
shortage rather than only about the existing experts:

- every request with a slot to fill has its coverage variable `y`, also those that no expert can
  serve at all (the engine leaves those out: nothing can be planned for them);
- every slot has a phantom column `z` (fill from an expert who does not exist yet, at no price),
  bounded by a tiny DELTA. Its reduced cost is the rate at which covered weight grows per unit of
  that slot filled by someone new. The tiny bound takes the LP off its degenerate corners (a
  slot filled whole by one option, a request nobody can serve), where many duals are optimal and
  GLOP reports any of them: an expert of 6 h with a 4-h request of weight 16 and one of weight 2
  gave the first slot a rate of 16 without it, 2 (the truth: a new expert's hour there frees
  the expert for the second) with it (`tests/unit/test_gaps_value.py`).

One more hour of a new expert able to do slot k is worth `rate_k / hours_k` (the hours the slot
needs: on site in the same commune or remote, no travel), for at most `hours_k` hours. One more
hour of an existing expert is worth the dual of its minutes row x 60, of a contract the dual of its
hours row x 60 (both as the engine's `Master` reports them).

What these numbers mean: the LP's derivative. The LP value with h more hours is never above the
old value plus h x the predicted value of an hour (weak duality: the old duals stay feasible for
the new LP once the new hours are priced at that value), and equals it while the extra hours do
not change which limits bind (`tests/unit/test_gaps_value.py` checks both against the LP solved
again with an existing expert's hour added, or a hypothetical expert). The engine's LP leaves
out an option longer than its expert's hours (`problem.fits_alone`), so a new expert's value
holds for an expert with the hours of the slot; and the integer plan gains in whole requests:
an hour on a four-hour request covers a quarter of it in the LP and nothing in a plan; four
hours cover it in both.

Pure: a `Scenario` in, numbers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver import pin_options
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.table import build
from shared.scenario import Scenario

#: The phantom columns' bound, as a fraction of a slot: small enough not to move the LP's value
#: visibly (at most DELTA x the total weight), large enough for GLOP's tolerances.
DELTA = 1e-4
#: Below this, a marginal value is zero (GLOP's tolerances).
EPS = 1e-6
#: The LP is built whole: beyond this many options the report says so instead of solving.
MAX_OPTIONS = 200_000


@dataclass
class HourValues:
    """The LP's marginal values. `slot_rate[(request, slot)]`: covered weight per whole slot filled
    by a new expert; `slot_hour`: the same per hour of work; `expert_hour` and `contract_hour`: per
    more hour of an existing expert's capacity or a contract's hours cap."""

    lp_value: float = 0.0
    status: str = "solved"
    slot_rate: dict[tuple[str, int], float] = field(default_factory=dict)
    slot_hour: dict[tuple[str, int], float] = field(default_factory=dict)
    slot_hours: dict[tuple[str, int], float] = field(default_factory=dict)
    expert_hour: dict[str, float] = field(default_factory=dict)
    contract_hour: dict[str, float] = field(default_factory=dict)


class _LP:
    def __init__(self, p: Problem, delta: float) -> None:
        self.p = p
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        lp, inf = self.lp, self.lp.infinity()
        has_slots = np.zeros(p.n_requests, dtype=bool)
        has_slots[p.slot_request] = True
        self.y = [lp.NumVar(0.0, 1.0 if has_slots[r] else 0.0, "") for r in range(p.n_requests)]
        self.slot_rows = []
        self.z = []
        for r in p.slot_request.tolist():
            ct = lp.Constraint(0.0, 0.0)
            ct.SetCoefficient(self.y[r], -1.0)
            z = lp.NumVar(0.0, delta, "")
            ct.SetCoefficient(z, 1.0)
            self.slot_rows.append(ct)
            self.z.append(z)
        x = [lp.NumVar(0.0, 1.0, "") for _ in range(p.n)]
        for o, s in enumerate(p.s.tolist()):
            self.slot_rows[s].SetCoefficient(x[o], 1.0)
        self.limits: list[dict[int, pywraplp.Constraint]] = []
        for key, coef, room in p.limit_rows():
            rows: dict[int, pywraplp.Constraint] = {}
            for o, (k, a) in enumerate(zip(key.tolist(), coef.tolist(), strict=True)):
                if a:
                    ct = rows.get(k)
                    if ct is None:
                        ct = rows[k] = lp.Constraint(-inf, float(room[k]))
                    ct.SetCoefficient(x[o], float(a))
            self.limits.append(rows)
        objective = lp.Objective()
        for y, w in zip(self.y, p.weight.tolist(), strict=True):
            objective.SetCoefficient(y, float(w))
        objective.SetMaximization()

    def solve(self) -> float:
        if self.lp.Solve() != pywraplp.Solver.OPTIMAL:
            raise RuntimeError("the value LP found no optimum")
        return float(self.lp.Objective().Value()) + self.p.pinned_weight


def _problem(sc: Scenario) -> Problem | None:
    pins, problem = pin_options(sc)
    if problem:
        return None
    return build_problem(sc, build(sc), pins, None)


def lp_value(sc: Scenario) -> float:
    """The coverage LP's optimum (every request, no phantom fill): what the checks compare."""
    p = _problem(sc)
    if p is None:
        return math.nan
    return _LP(p, 0.0).solve()


def hour_values(sc: Scenario) -> HourValues:
    """The marginal value of one more hour, per slot (of a new expert), expert and contract."""
    p = _problem(sc)
    if p is None:
        return HourValues(status="infeasible")
    if p.n > MAX_OPTIONS:
        return HourValues(status="too_large")
    model = _LP(p, DELTA)
    model.solve()
    out = HourValues(lp_value=_LP(p, 0.0).solve())
    for s, z in enumerate(model.z):
        r = sc.requests[int(p.slot_request[s])]
        k = int(p.slot_index[s])
        rate = max(0.0, z.reduced_cost())
        hours = r.effective_slots()[k].hours
        key = (r.id, k)
        out.slot_rate[key] = rate if rate > EPS else 0.0
        out.slot_hours[key] = hours
        out.slot_hour[key] = out.slot_rate[key] / hours
    experts, minutes_rows = model.limits[0], model.limits[1]
    for k, ct in experts.items():
        v = max(0.0, ct.dual_value()) * 60
        out.expert_hour[sc.experts[k].id] = v if v > EPS else 0.0
    for k, ct in minutes_rows.items():
        v = max(0.0, ct.dual_value()) * 60
        out.contract_hour[sc.contracts[k].id] = v if v > EPS else 0.0
    return out
