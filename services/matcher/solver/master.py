"""The restricted master LP of the column generation over expert schedules (`schedules.py`).

    max  sum of weight x y_r
    s.t. for each slot s:   sum of the schedules holding s  =  y_r(s)      (dual: u_s)
         for each expert e: sum of e's schedules            <= 1           (dual: mu_e)

solved by GLOP and kept alive: schedules are only appended. A request of one slot (every request
of the generator's shapes) has no y of its own: its row is "filled at most once" and its weight
is the objective of the schedules that fill it.

Pure: no database, no logging.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver.problem import Problem

EPS = 1e-6


@dataclass
class Schedule:
    expert: int
    options: tuple[int, ...]  # positions in the problem, sorted


class Master:
    """The restricted master LP (GLOP), kept alive: schedules are only appended.

    `box` bounds the slots' values from above while the generation heads in (box-step
    stabilisation): a column per slot of a one-slot request that fills it alone, worth its weight
    less the limit. A bound on u never makes the Lagrangian invalid (it is one at every u), and at
    the limit "its weight" such a column gains nothing, so it changes neither the LP's value nor
    the plan."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        # Presolve again after every round costs most of a round (used shape: 0.35 s of 0.44 s
        # of CPU); without it GLOP starts from the last basis, and the LP takes a third of that.
        self.solver.SetSolverSpecificParametersAsString("use_preprocessing: false")
        s = self.solver
        # A request of one slot needs no variable of its own: its row is "filled at most once"
        # and its weight goes to the schedules that fill it (a set-packing row, its slack basic).
        slots_of = np.bincount(p.slot_request, minlength=p.n_requests)
        self.single = slots_of[p.slot_request] == 1
        free = p.free_request[p.slot_request]
        self.gain = np.where(self.single & free, p.weight[p.slot_request], 0).astype(float)
        self.y: dict[int, pywraplp.Variable] = {}
        self.slot_rows = []
        objective = s.Objective()
        for sid, r in enumerate(p.slot_request.tolist()):
            if self.single[sid]:
                self.slot_rows.append(s.Constraint(-s.infinity(), float(free[sid])))
                continue
            if r not in self.y:
                self.y[r] = s.NumVar(0.0, float(p.free_request[r]), "")
                objective.SetCoefficient(self.y[r], float(p.weight[r]))
            ct = s.Constraint(0.0, 0.0)
            ct.SetCoefficient(self.y[r], -1.0)
            self.slot_rows.append(ct)
        self.expert_rows = [s.Constraint(-s.infinity(), 1.0) for _ in p.sc.experts]
        objective.SetMaximization()
        self.schedules: list[Schedule] = []
        self.lam: list[pywraplp.Variable] = []
        self.known: set[tuple[int, tuple[int, ...]]] = set()
        self.phantom: dict[int, pywraplp.Variable] = {}
        self.worth: dict[int, float] = {}  # per slot, what its box column gains

    def add(self, schedules: list[Schedule]) -> int:
        added = 0
        objective = self.solver.Objective()
        for sch in schedules:
            key = (sch.expert, sch.options)
            if key in self.known or not sch.options:
                continue
            self.known.add(key)
            v = self.solver.NumVar(0.0, self.solver.infinity(), "")
            self.expert_rows[sch.expert].SetCoefficient(v, 1.0)
            slots = self.p.s[list(sch.options)]
            for sid in slots.tolist():
                self.slot_rows[sid].SetCoefficient(v, 1.0)
            objective.SetCoefficient(v, float(self.gain[slots].sum()))
            self.schedules.append(sch)
            self.lam.append(v)
            added += 1
        return added

    def solve(self, deadline: float = math.inf) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        """(value with pins, u per slot, mu per expert, lambda per schedule), None if not optimal
        by the deadline (a dive's LP took 1.6 s on a loaded machine). u is what filling the slot
        is worth: its row's dual, or for a request of one slot its weight less that. The value
        is that of the schedules alone (what the box's columns gain left out): a plan of the
        relaxation without the box, so at most its optimum."""
        if math.isfinite(deadline):
            self.solver.SetTimeLimit(max(1, int(1000 * (deadline - time.monotonic()))))
        if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        dual = np.array([ct.dual_value() for ct in self.slot_rows])
        u = np.where(self.single, self.gain - dual, -dual)
        mu = np.array([ct.dual_value() for ct in self.expert_rows])
        lam = np.array([v.solution_value() for v in self.lam])
        boxed = sum(v.solution_value() * self.worth[sid] for sid, v in self.phantom.items() if self.worth[sid])
        return self.solver.Objective().Value() - boxed + self.p.pinned_weight, u, mu, lam

    def box(self, limit: np.ndarray | None) -> None:
        """Keep each one-slot request's slot value at most `limit` (None: at most its weight,
        which some optimal prices are anyway: above it the request's term of the Lagrangian is
        nothing and the experts' knapsacks only gain)."""
        objective = self.solver.Objective()
        for sid in np.flatnonzero(self.single).tolist():
            if sid not in self.phantom:
                self.phantom[sid] = self.solver.NumVar(0.0, 1.0, "")
                self.slot_rows[sid].SetCoefficient(self.phantom[sid], 1.0)
            self.worth[sid] = 0.0 if limit is None else max(0.0, float(self.gain[sid] - limit[sid]))
            objective.SetCoefficient(self.phantom[sid], self.worth[sid])

    def fix(self, k: int) -> None:
        self.lam[k].SetLb(1.0)
