"""The CP-SAT model: one boolean per eligible option, every rule a constraint, two phases.

Phase 1 maximises covered priority weight (its proven bound is the plan's `upper_bound`).
Phase 2 keeps that coverage and minimises, in this order of weight:

    W_UNITS   per commune left with nothing while it asked      (fairness across communes)
    W_UTIL    per percentage point of the busiest expert's load  (fairness across experts)
    W_LOCAL   per step away from local (same unit 0, < 1 h 1, else 2)
    W_TRAVEL  per minute of one-way travel
    W_COST    per thousand dong

OR-Tools 9.15 can certify a wrong optimum with at-most-one plus linear constraints (issue 5293):
`presolve_inclusion_work_limit = 0` avoids it, and the tests cross-check against HiGHS.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from services.matcher.solver.limits import Limits, weight
from services.matcher.solver.options import Option
from shared.scenario import Scenario

W_UNITS = 2_000
W_UTIL = 20
W_LOCAL = 50
W_TRAVEL = 2
W_COST = 1  # per 1 000 ₫


@dataclass
class Solved:
    chosen: list[Option]
    optimal: bool
    covered: int
    bound: int
    phases: list[dict[str, object]]


class Model:
    def __init__(self, sc: Scenario, options: list[Option], pins: list[Option], limits: Limits,
                 weights: dict[int, int] | None) -> None:
        self.m = cp_model.CpModel()
        self.sc, self.pins, self.weights = sc, pins, weights
        pinned_slots = {(p.request, p.slot) for p in pins}
        pinned_pairs = {(p.request, p.expert) for p in pins}
        self.options = [o for o in options if (o.request, o.slot) not in pinned_slots
                        and (o.request, o.expert) not in pinned_pairs]
        self.x = [self.m.new_bool_var(f"x{i}") for i in range(len(self.options))]
        self.y: dict[str, cp_model.IntVar] = {}
        self.limits = limits
        self._slots_and_coverage(pinned_slots)
        self._one_slot_per_expert()
        self._capacities()

    def _slots_and_coverage(self, pinned_slots: set[tuple[str, int]]) -> None:
        by_slot: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, o in enumerate(self.options):
            by_slot[(o.request, o.slot)].append(i)
        for r in self.sc.requests:
            free = [k for k in range(len(r.effective_slots())) if (r.id, k) not in pinned_slots]
            if not free:
                continue
            if any(not by_slot.get((r.id, k)) for k in free):
                for k in free:
                    for i in by_slot.get((r.id, k), []):
                        self.m.add(self.x[i] == 0)
                continue
            y = self.y[r.id] = self.m.new_bool_var(f"y_{r.id}")
            for k in free:
                # A slot is filled exactly when the whole request is covered: no stranded halves.
                self.m.add(sum(self.x[i] for i in by_slot[(r.id, k)]) == y)

    def _one_slot_per_expert(self) -> None:
        by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, o in enumerate(self.options):
            by_pair[(o.request, o.expert)].append(i)
        for idx in by_pair.values():
            if len({self.options[i].slot for i in idx}) > 1:
                self.m.add_at_most_one(self.x[i] for i in idx)

    def _capacities(self) -> None:
        per_expert: dict[str, list[int]] = defaultdict(list)
        per_contract: dict[str, list[int]] = defaultdict(list)
        for i, o in enumerate(self.options):
            per_expert[o.expert].append(i)
            per_contract[o.contract].append(i)
        lim = self.limits
        for e, idx in per_expert.items():
            self.m.add(sum(self.options[i].minutes * self.x[i] for i in idx) <= max(0, lim.expert_minutes[e]))
        for c, idx in per_contract.items():
            self.m.add(sum(self.options[i].minutes * self.x[i] for i in idx) <= max(0, lim.contract_minutes[c]))
            budget = lim.contract_budget[c]
            if budget is not None:
                self.m.add(sum(self.options[i].cost * self.x[i] for i in idx) <= max(0, budget))
            self.m.add(sum(self.x[i] for i in idx) <= max(0, lim.contract_slots[c]))

    def coverage(self) -> cp_model.LinearExpr:
        prio = {r.id: r.priority for r in self.sc.requests}
        return sum(weight(prio[r], self.weights) * y for r, y in self.y.items())

    def hint(self, chosen: list[Option]) -> None:
        picked = set(chosen)
        for i, o in enumerate(self.options):
            self.m.add_hint(self.x[i], o in picked)
        covered = {o.request for o in chosen}
        for r, y in self.y.items():
            self.m.add_hint(y, r in covered)

    def secondary(self) -> cp_model.LinearExpr:
        terms = [(W_COST * (o.cost // 1000) + W_TRAVEL * o.travel + W_LOCAL * o.local_rank) * x
                 for o, x in zip(self.options, self.x, strict=True)]
        util = self.m.new_int_var(0, 100, "max_util")
        per_expert: dict[str, list[int]] = defaultdict(list)
        for i, o in enumerate(self.options):
            per_expert[o.expert].append(i)
        caps = {e.id: max(1, round(e.capacity_hours * 60)) for e in self.sc.experts}
        for e, idx in per_expert.items():
            self.m.add(100 * sum(self.options[i].minutes * self.x[i] for i in idx) <= util * caps[e])
        units: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        unit_of = {r.id: r.unit for r in self.sc.requests}
        for r, y in self.y.items():
            units[unit_of[r]].append(y)
        empty = []
        for u, ys in units.items():
            z = self.m.new_bool_var(f"z_{u}")
            self.m.add(sum(ys) >= z)
            empty.append(1 - z)
        return sum(terms) + W_UTIL * util + W_UNITS * sum(empty)

    def chosen(self, solver: cp_model.CpSolver) -> list[Option]:
        return [*self.pins, *(o for o, x in zip(self.options, self.x, strict=True) if solver.value(x))]


def _solver(time_limit: float, workers: int, seed: int) -> cp_model.CpSolver:
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = max(0.05, time_limit)
    s.parameters.num_workers = workers
    s.parameters.random_seed = seed
    s.parameters.presolve_inclusion_work_limit = 0
    return s


def run(model: Model, start: list[Option], time_limit: float, workers: int, seed: int) -> Solved:
    began = time.monotonic()
    model.hint(start)
    model.m.maximize(model.coverage())
    s1 = _solver(time_limit * 0.7, workers, seed)
    st1 = s1.solve(model.m)
    phases: list[dict[str, object]] = [{"phase": "coverage", "status": s1.status_name(st1), "seconds": round(s1.wall_time, 3)}]
    if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(start, False, -1, -1, phases)
    covered, bound = round(s1.objective_value), int(s1.best_objective_bound + 1e-6)
    chosen = model.chosen(s1)
    model.m.clear_hints()
    model.hint(chosen)
    model.m.add(model.coverage() >= covered)
    model.m.minimize(model.secondary())
    left = time_limit - (time.monotonic() - began)
    if left > 0.1:
        s2 = _solver(left, workers, seed)
        st2 = s2.solve(model.m)
        phases.append({"phase": "secondary", "status": s2.status_name(st2), "seconds": round(s2.wall_time, 3)})
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = model.chosen(s2)
    return Solved(chosen, st1 == cp_model.OPTIMAL, covered, bound, phases)
