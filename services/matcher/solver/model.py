"""The CP-SAT model: one boolean per option it is given, every rule a constraint, two phases.

Phase 1 maximises covered priority weight. Phase 2 keeps that coverage and minimises, in this
order of weight:

    W_MOVED   per hinted slot (`hint.py`) given to another expert or contract, or left empty
    W_UNITS   per commune left with nothing while it asked      (fairness across communes)
    W_UTIL    per percentage point of the busiest expert's load  (fairness across experts)
    W_LOCAL   per step away from local (same unit 0, < 1 h 1, else 2)
    W_TRAVEL  per minute of one-way travel
    W_COST    per thousand dong

On a small problem the model gets every option and runs both phases: CP-SAT's own bound is the
proof. On a large one coverage comes from SCIP on a restricted set (`mip.py`) and only phase 2
runs here, on that set.

OR-Tools 9.15 can certify a wrong optimum with at-most-one plus linear constraints (issue 5293):
`presolve_inclusion_work_limit = 0` avoids it, and the tests cross-check against SCIP.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from services.matcher.solver.problem import Problem

#: Above everything else phase 2 weighs for one assignment: its cost (a 16-hour task with three
#: hours' travel each way at 300 000 ₫/h is about 7 000), travel (at most a few hundred), locality
#: (100), plus a whole commune (W_UNITS) and the busiest expert's whole load (100 x W_UTIL). So a
#: proposal is moved only when coverage needs it, never to save money or travel.
W_MOVED = 100_000
W_UNITS = 2_000
W_UTIL = 20
W_LOCAL = 50
W_TRAVEL = 2
W_COST = 1  # per 1 000 ₫
#: Phase 2 on at most this many options runs on one worker (deterministic).
ONE_WORKER_COLUMNS = 5_000


@dataclass
class Solved:
    chosen: list[int]  # free options (positions in the problem)
    covered: int
    bound: int  # CP-SAT's bound on this model's coverage (pins included)
    optimal: bool  # coverage proven optimal for this model
    phases: list[dict[str, object]] = field(default_factory=list)
    model_is_complete: bool = False  # the model had every option: its bound holds for the problem


class Model:
    """`keep`: options (positions in the problem) that phase 2 pays W_MOVED not to use: the hint."""

    def __init__(self, p: Problem, columns: np.ndarray, keep: list[int] | None = None) -> None:
        self.p, self.cols = p, np.asarray(columns, dtype=np.int64)
        self.keep = sorted(set(keep or ()))
        self.m = cp_model.CpModel()
        self.x = [self.m.new_bool_var(f"x{i}") for i in range(self.cols.size)]
        self.y: dict[int, cp_model.IntVar] = {}
        self._slots()
        self._one_slot_per_expert()
        self._limits()

    def _slots(self) -> None:
        p = self.p
        by_slot: dict[int, list[int]] = defaultdict(list)
        for j, sid in enumerate(p.s[self.cols].tolist()):
            by_slot[sid].append(j)
        by_request: dict[int, list[int]] = defaultdict(list)
        for sid, r in enumerate(p.slot_request.tolist()):
            by_request[r].append(sid)
        for r, sids in by_request.items():
            if not p.free_request[r] or any(not by_slot.get(sid) for sid in sids):
                for sid in sids:
                    for j in by_slot.get(sid, []):
                        self.m.add(self.x[j] == 0)
                continue
            y = self.y[r] = self.m.new_bool_var(f"y{r}")
            for sid in sids:
                # A slot is filled exactly when the whole request is covered: no stranded halves.
                self.m.add(sum(self.x[j] for j in by_slot[sid]) == y)

    def _one_slot_per_expert(self) -> None:
        p = self.p
        by_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
        for j, (r, e) in enumerate(zip(p.r[self.cols].tolist(), p.e[self.cols].tolist(), strict=True)):
            by_pair[(r, e)].append(j)
        for js in by_pair.values():
            if len({int(self.p.s[self.cols[j]]) for j in js}) > 1:
                self.m.add_at_most_one(self.x[j] for j in js)

    def _limits(self) -> None:
        for key, coef, room in self.p.limit_rows():
            rows: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for j, (k, a) in enumerate(zip(key[self.cols].tolist(), coef[self.cols].tolist(), strict=True)):
                if a:
                    rows[k].append((j, a))
            for k, terms in rows.items():
                if sum(a for _, a in terms) > room[k]:
                    self.m.add(sum(a * self.x[j] for j, a in terms) <= int(room[k]))

    def coverage(self) -> cp_model.LinearExprT:
        return sum(int(self.p.weight[r]) * y for r, y in self.y.items())

    def hint(self, chosen: list[int]) -> None:
        self.m.clear_hints()
        picked = set(chosen)
        for j, o in enumerate(self.cols.tolist()):
            self.m.add_hint(self.x[j], o in picked)
        covered = {int(self.p.r[o]) for o in chosen}
        for r, y in self.y.items():
            self.m.add_hint(y, r in covered)

    def secondary(self) -> cp_model.LinearExpr:
        p, t = self.p, self.p.table
        rows = p.idx[self.cols]
        unit = (p.cost[self.cols] // 1000) * W_COST + W_TRAVEL * t.travel[rows] + W_LOCAL * t.local_rank[rows]
        terms = [int(a) * x for a, x in zip(unit.tolist(), self.x, strict=True) if a]
        util = self.m.new_int_var(0, 100, "max_util")
        per_expert: dict[int, list[int]] = defaultdict(list)
        for j, e in enumerate(p.e[self.cols].tolist()):
            per_expert[e].append(j)
        for e, js in per_expert.items():
            cap = max(1, round(p.sc.experts[e].capacity_hours * 60))
            self.m.add(100 * sum(int(p.minutes[self.cols[j]]) * self.x[j] for j in js) <= util * cap)
        units: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        for r, y in self.y.items():
            units[p.sc.requests[r].unit].append(y)
        empty = []
        for u, ys in units.items():
            z = self.m.new_bool_var(f"z_{u}")
            self.m.add(sum(ys) >= z)
            empty.append(1 - z)
        position = {o: j for j, o in enumerate(self.cols.tolist())}
        kept = [self.x[position[o]] for o in self.keep if o in position]
        return sum(terms) + W_UTIL * util + W_UNITS * sum(empty) + W_MOVED * (len(kept) - sum(kept))

    def chosen(self, solver: cp_model.CpSolver) -> list[int]:
        return [o for o, x in zip(self.cols.tolist(), self.x, strict=True) if solver.boolean_value(x)]


def _solver(time_limit: float, workers: int, seed: int) -> cp_model.CpSolver:
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = max(0.05, time_limit)
    s.parameters.num_workers = workers
    s.parameters.random_seed = seed
    s.parameters.presolve_inclusion_work_limit = 0
    return s


def run(model: Model, start: list[int], budget_s: float, coverage_share: float, workers: int, seed: int) -> Solved:
    """Phase 1 within `coverage_share` of the budget (skipped when 0: `start` already has the
    coverage to keep), then phase 2 at that coverage with whatever time is left."""
    began = time.monotonic()
    coverage_s = coverage_share * budget_s
    p = model.p
    complete = model.cols.size == p.n
    chosen, covered, bound, optimal = start, p.covered(start), -1, False
    phases: list[dict[str, object]] = []
    if coverage_s > 0:
        model.hint(start)
        model.m.maximize(model.coverage())
        s1 = _solver(coverage_s, workers, seed)
        st1 = s1.solve(model.m)
        phases.append({"phase": "coverage", "status": s1.status_name(st1), "seconds": round(s1.wall_time, 3)})
        if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Solved(start, covered, -1, False, phases, complete)
        chosen = model.chosen(s1)
        covered = p.covered(chosen)
        bound = int(s1.best_objective_bound + 1e-6) + p.pinned_weight
        optimal = st1 == cp_model.OPTIMAL
    secondary_s = budget_s - (time.monotonic() - began)
    if secondary_s > 0.1:
        model.hint(chosen)
        model.m.add(model.coverage() >= covered - p.pinned_weight)
        model.m.minimize(model.secondary())
        # One worker on a small model: fast there, and the same plan every time among equals
        # (with two, whichever worker finds an optimum first wins: a re-plan would churn).
        s2 = _solver(secondary_s, 1 if model.cols.size <= ONE_WORKER_COLUMNS else workers, seed)
        st2 = s2.solve(model.m)
        phases.append({"phase": "secondary", "status": s2.status_name(st2), "seconds": round(s2.wall_time, 3)})
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = model.chosen(s2)
    return Solved(chosen, covered, bound, optimal, phases, complete)
