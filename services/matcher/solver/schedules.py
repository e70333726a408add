"""Column generation over expert schedules (Dantzig-Wolfe), its bound, and a dive to a plan.

Every limit belongs to one expert (the expert's minutes, and the contracts that expert holds), so
the problem is a set of knapsacks, one per expert, linked only by "each slot filled at most once".
A *schedule* is a set of slots one expert can fill within every limit. The master LP picks at
most one schedule per expert, each slot filled by its request's coverage:

    max  sum of weight x y_r
    s.t. for each slot s:   sum of the schedules holding s  =  y_r(s)      (dual: u_s)
         for each expert e: sum of e's schedules            <= 1           (dual: mu_e)

A schedule is worth adding when its slots' u sum to more than mu_e: each expert's best schedule at
u is the knapsack of `bound.py`, so the pricing step is that bound's computation, and its value
(the Lagrangian at u) is a proven bound at every round. Converged, the LP equals the least such
bound: on the generator's long shape (tasks of 6 to 16 hours, two or three per expert) 5 654.8
where the LP over options and its knapsack bound gave 5 668, and SCIP's cuts after 240 s 5 658.5.

The master's first prices are poor, so the point priced is smoothed towards the best so far, and
the prices are boxed near it while the generation heads in (`BOX`, `Master.box`). Coverage is
whole, so the generation stops once the bound rounded down reaches the LP.

The LP's schedules are nearly whole (an expert's schedule is a whole knapsack), so a *dive* turns
it into a plan: fix the schedules the LP takes whole, and a tenth of the fractional ones, the
largest first, never two sharing an expert or a slot; price again for the rest; repeat. When time
runs out, the LP's other schedules are taken in order of their value where they still fit. On
long 1 (converged, 8 steps) this reached 5 652 and, a twentieth at a time, 5 654: the bound
itself, so the optimum, where the engine's SCIP on restricted sets of options stopped at 5 564.

Pure: no database, no logging. Deterministic for the same input (GLOP, numpy, fixed orders).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from services.matcher.solver import bound
from services.matcher.solver.master import EPS, Master, Schedule
from services.matcher.solver.problem import Problem

__all__ = ["Master", "Outcome", "Pricer", "Schedule", "Search", "search", "tasks_per_expert", "whole_requests"]

#: Weight of the best dual point so far in the point priced (Wentges smoothing): the master's
#: first duals are poor, and pricing at them alone took 19 rounds on long 1 instead of about 10.
SMOOTH = 0.2
#: Where the Lagrangian is tried when the generation ends unconverged: shares of the best point
#: so far against the master's last prices (the rest), in order.
POLISH = (0.5,)
#: Box-step stabilisation: while generating, each slot's value is kept at most this share of its
#: request's weight above the best prices so far (`Master.box`), re-centred when they improve.
#: The first masters' prices are far off (used 1, round 1: the Lagrangian there 14 247 against
#: 6 584.6 at the LP over options' prices). CPU seconds of the generation, load 2 to 7 (2026-12-01
#: 19:09 to 19:22 UTC): used 2's bound below the old 6 914.97 by 3.7 s instead of 4.4 to 4.7 s,
#: 6 900.79 at 4.6 s instead of 6 900.76 at 5.0 s; used 1's 6 568.6 at 2.4 to 2.7 s against
#: 6 570.9 at 2.8 to 3.1 s. A box of 0.05 was slower on used 1, and one that stays where it
#: began stalled the bound.
BOX = 0.1
#: The generation stops once the bound rounded down is within this share of the LP: the last
#: rounds gain under a unit of the bound each and a dive in time is worth more (used 1 at load
#: 5.6: 21 rounds, bound 6 565.5, no time left for the dive).
STOP_GAP = 1e-4
#: Pricing rounds between two fixings of the dive.
DIVE_ROUNDS = 2
#: Share of the fractional schedules fixed per step of the dive (the largest first, at least one).
DIVE_FIX = 0.1
#: Price also each expert's best schedule of every smaller number of tasks (the same table):
#: more columns per round, fewer rounds of the master LP.
EVERY_COUNT = False


@dataclass
class Outcome:
    bound: float  # least Lagrangian value seen: proven for the whole problem (pins included)
    lp: float  # the master LP's value at the end (pins included)
    converged: bool
    rounds: int
    chosen: list[int] = field(default_factory=list)  # the dive's plan (free options), may be partial
    dives: int = 0


class Pricer:
    """Each expert's best schedule at slot values u: the knapsack of `bound.py` (exact minutes,
    money through the rate, concurrent slots), its choice traced, then made to fit every limit
    exactly (a knapsack pools an expert's contracts and turns money into minutes)."""

    def __init__(self, p: Problem) -> None:
        self.p, self.ks = p, bound.knapsacks(p)
        self.weight_need = np.where(p.free_request, p.weight, 0).astype(float)
        # Per expert, the profits it was last priced at and what came of it: an expert none of
        # whose slots changed value is not priced again (late rounds move few duals).
        self.last: dict[int, tuple[np.ndarray, float, list[Schedule]]] = {}

    def lagrangian(self, u: np.ndarray, values: np.ndarray) -> float:
        p = self.p
        need = np.zeros(p.n_requests)
        np.add.at(need, p.slot_request, np.maximum(u, 0.0))
        gain = np.maximum(0.0, self.weight_need - need)
        return float(gain.sum() + np.maximum(values, 0.0).sum()) + p.pinned_weight

    def price(self, u: np.ndarray, experts: list[int], banned: np.ndarray) -> tuple[np.ndarray, list[Schedule]]:
        """(per expert, its best schedule's value at u; the schedules, made feasible). Banned
        slots (already filled by the dive) are worth nothing."""
        p, ks = self.p, self.ks
        values = np.zeros(len(ks.options))
        found: list[Schedule] = []
        profit_all = np.where(banned, 0.0, np.maximum(u, 0.0))
        for e in experts:
            os = ks.options[e]
            if os.size == 0:
                continue
            profit = profit_all[p.s[os]]
            seen = self.last.get(e)
            if seen is not None and np.array_equal(seen[0], profit):
                values[e] = seen[1]
                found += seen[2]
                continue
            values[e], mine = self._best(e, os, profit, profit_all)
            self.last[e] = (profit, values[e], mine)
            found += mine
        return values, found

    def _best(self, e: int, os: np.ndarray, profit: np.ndarray, profit_all: np.ndarray) -> tuple[float, list[Schedule]]:
        p, ks = self.p, self.ks
        live = profit > EPS
        if not live.any():
            return 0.0, []
        live_os, live_g, live_p = bound._undominated(
            *bound._one_per_slot(p, os[live], ks.grains[e][live], profit[live]), int(ks.count[e])
        )
        value, takes = bound.choices(live_p, live_g, int(ks.cap[e]), int(ks.count[e]), True, EVERY_COUNT)
        mine = [Schedule(e, picked) for picked in (self.fit(live_os[take], profit_all) for take in takes) if picked]
        return value, mine

    def fit(self, options: np.ndarray, profit: np.ndarray) -> tuple[int, ...]:
        """The options, most valuable first, each kept when it still fits its expert's and
        contract's room and its request has no other slot here."""
        p = self.p
        ne, nc = len(p.sc.experts), len(p.sc.contracts)
        left: dict[int, int] = {}  # row of p.room -> what is left of it
        kept: list[int] = []
        requests: set[int] = set()
        for o in sorted(options.tolist(), key=lambda o: (-profit[p.s[o]], o)):
            e, c, m = int(p.e[o]), int(p.c[o]), int(p.minutes[o])
            use = {e: m, ne + c: m, ne + 2 * nc + c: 1}
            if p.has_budget[c]:
                use[ne + nc + c] = int(p.cost[o])
            if int(p.r[o]) in requests or any(left.get(k, int(p.room[k])) < v for k, v in use.items()):
                continue
            for k, v in use.items():
                left[k] = left.get(k, int(p.room[k])) - v
            requests.add(int(p.r[o]))
            kept.append(o)
        return tuple(sorted(kept))


def plan_schedules(p: Problem, chosen: list[int]) -> list[Schedule]:
    by_expert: dict[int, list[int]] = {}
    for o in chosen:
        by_expert.setdefault(int(p.e[o]), []).append(int(o))
    return [Schedule(e, tuple(sorted(os))) for e, os in sorted(by_expert.items())]


def lp_schedules(p: Problem, pricer: Pricer, columns: np.ndarray, x: np.ndarray) -> list[Schedule]:
    """Per expert, the options the LP over options gives it (all of them, and those at one half
    or more), made to fit, the largest first: a master that starts from them climbs faster (long
    1: 5 623 instead of 5 593 after 10 rounds)."""
    out: list[Schedule] = []
    value = np.zeros(p.n_slots)
    live = x > EPS
    cols, xs = columns[live], x[live]
    value[p.s[cols]] = xs
    order = np.argsort(p.e[cols], kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(p.e[cols][order])) + 1):
        if group.size == 0:
            continue
        expert = int(p.e[cols[group[0]]])
        for least in (EPS, 0.5):
            mine = cols[group][xs[group] >= least]
            picked = pricer.fit(mine, value) if mine.size else ()
            if picked:
                out.append(Schedule(expert, picked))
    return out


def _reduced(p: Problem, sch: Schedule, u: np.ndarray, mu: np.ndarray) -> float:
    return float(u[p.s[list(sch.options)]].sum() - mu[sch.expert])


class Search:
    """Column generation, then the dive, each within its deadline."""

    def __init__(
        self,
        p: Problem,
        starts: list[list[int]],
        u0: np.ndarray | None,
        lp: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """`starts`: plans whose schedules the master starts from; `u0`: slot values to price at
        first (the LP over options'); `lp`: that LP's columns and values."""
        self.p, self.pricer, self.master = p, Pricer(p), Master(p)
        for chosen in starts:
            self.master.add(plan_schedules(p, chosen))
        if lp is not None:
            self.master.add(lp_schedules(p, self.pricer, *lp))
        self.banned = np.zeros(p.n_slots, dtype=bool)
        self.fixed = np.zeros(len(p.sc.experts), dtype=bool)
        self.best = math.inf
        self.center: np.ndarray | None = None  # the prices of the best bound so far
        self.rounds = 0
        self.last_u: np.ndarray | None = None  # the master's last slot values
        self.last_lam = np.zeros(0)  # and its schedules' values
        self.boxed = False
        self.w = np.where(p.free_request, p.weight, 0)[p.slot_request]
        if u0 is not None:
            self.master.box(np.maximum(u0, 0.0) + BOX * self.w)
            self.boxed = True
        if u0 is not None:
            self._price_at(np.maximum(u0, 0.0), None)

    def _price_at(self, u: np.ndarray, mu: np.ndarray | None, add: bool = True) -> tuple[float, int]:
        experts = np.flatnonzero(~self.fixed).tolist()
        values, found = self.pricer.price(u, experts, self.banned)
        value = self.pricer.lagrangian(np.where(self.banned, 0.0, u), values)
        if not self.banned.any() and value < self.best:
            self.best, self.center = value, u
            if self.boxed:
                self.master.box(np.maximum(u, 0.0) + BOX * self.w)
        if not add:
            return value, 0
        if mu is not None:
            found = [s for s in found if _reduced(self.p, s, u, mu) > EPS]
        return value, self.master.add(found)

    def generate(self, deadline: float, max_rounds: int = 60) -> tuple[float, bool]:
        """Rounds until the deadline or convergence; (LP, converged). Converged: no schedule
        improves the LP, or the bound rounded down is at most the LP, give or take STOP_GAP
        (coverage is whole, so more rounds could lower the proven bound by a unit at most: used 2
        stopped after 27 rounds instead of 38 of the last hundredths). While the box holds and no
        schedule prices in, the box goes."""
        lp = -math.inf
        for _ in range(max_rounds):
            solved = self.master.solve(deadline)
            if solved is None:
                return lp, False
            lp, u, mu, lam = solved
            self.rounds += 1
            self.last_u = u
            if not self.banned.any():
                self.last_lam = lam
            if time.monotonic() > deadline:
                return lp, False
            smooth = self.center is not None and not self.banned.any()
            point = u if self.center is None or not smooth else SMOOTH * self.center + (1 - SMOOTH) * u
            _, added = self._price_at(point, mu)
            if added == 0 and smooth:
                _, added = self._price_at(u, mu)  # the smoothed point mispriced
            if math.floor(self.best + EPS) <= lp + max(EPS, STOP_GAP * lp):
                added = 0
            elif added == 0 and self.boxed:
                self.unbox()
                continue
            if added == 0:
                self.unbox()
                return lp, True
        return lp, False

    def unbox(self) -> None:
        if self.boxed:
            self.master.box(None)
            self.boxed = False

    def polish(self, deadline: float) -> None:
        """The Lagrangian at points between the best prices so far and the master's last ones,
        while time is left: a bound for a generation that did not converge. Its master is often
        near its optimum when the smoothed points still price high (used 2, round 18: 6 914.97
        at the best point, 6 906.0 half-way to the master's prices)."""
        if self.center is None or self.last_u is None or self.banned.any():
            return
        u = np.maximum(self.last_u, 0.0)
        for share in POLISH:
            if time.monotonic() >= deadline:
                return
            self._price_at(share * self.center + (1 - share) * u, None, add=False)

    def dive(self, deadline: float) -> tuple[list[int], int]:
        """Fix schedules until the LP is whole or time is up; then the fixed schedules and, when
        time ran out first, the LP's others in order of their value (each where it still fits)."""
        dives = 0
        self.unbox()
        # The generation's last LP, should the first of the dive not be solved in time (used 1
        # at load 5.6: no step, and the plan was the rounded one).
        lam = np.zeros(len(self.master.lam))
        lam[: self.last_lam.size] = self.last_lam
        # Fixing schedules changes bounds, not columns: there GLOP's presolve pays (used 2, 14
        # rounds of columns: 15 steps in 2.4 s with it, 5 in 12.6 s without).
        self.master.solver.SetSolverSpecificParametersAsString("use_preprocessing: true")
        while time.monotonic() < deadline:
            solved = self.master.solve(deadline)
            if solved is None:
                break
            lam = solved[3]
            frac = [k for k in np.flatnonzero((lam > EPS) & (lam <= 1 - EPS)).tolist() if not self._is_fixed(k)]
            self._fix([k for k in np.flatnonzero(lam > 1 - EPS).tolist() if not self._is_fixed(k)])
            if not frac:
                break
            order = sorted(frac, key=lambda k: (-lam[k], k))
            self._fix(self._compatible(order, max(1, int(DIVE_FIX * len(frac)))))
            dives += 1
            self.generate(deadline, DIVE_ROUNDS)
        if lam.size:
            live = [k for k in np.flatnonzero(lam > EPS).tolist() if not self._is_fixed(k)]
            self._fix(self._compatible(sorted(live, key=lambda k: (-lam[k], k)), len(live)))
        fixed = self.fixed_lam()
        return sorted({o for k in np.flatnonzero(fixed).tolist() for o in self.master.schedules[k].options}), dives

    def _compatible(self, order: list[int], most: int) -> list[int]:
        """Up to `most` schedules of `order`, skipping any whose expert or a slot is taken."""
        experts: set[int] = set()
        slots: set[int] = set()
        out: list[int] = []
        for k in order:
            sch = self.master.schedules[k]
            mine = set(self.p.s[list(sch.options)].tolist())
            if self.fixed[sch.expert] or sch.expert in experts or self.banned[list(mine)].any() or mine & slots:
                continue
            out.append(k)
            experts.add(sch.expert)
            slots |= mine
            if len(out) >= most:
                break
        return out

    def fixed_lam(self) -> np.ndarray:
        return np.array([v.lb() > 0.5 for v in self.master.lam], dtype=bool)

    def _is_fixed(self, k: int) -> bool:
        return self.master.lam[k].lb() > 0.5

    def _fix(self, ks: list[int]) -> None:
        for k in ks:
            sch = self.master.schedules[k]
            self.master.fix(k)
            self.fixed[sch.expert] = True
            self.banned[self.p.s[list(sch.options)]] = True


def tasks_per_expert(p: Problem) -> float:
    """How many of its tasks an expert can hold, on average over the experts with options: its
    room over its median option's minutes, at most its concurrent slots. The generator's shapes at
    2 000 x 400 (seeds 1 to 3): long 2.0 to 2.1, mixed 1.8 to 1.9; scoped 2.5 to 2.6, onsite 2.6
    to 2.7, used 2.6 to 2.9, the default 3.1 to 3.4."""
    ks = bound.knapsacks(p)
    held = [
        min(int(ks.cap[e]) / max(1.0, float(np.median(ks.grains[e]))), int(ks.count[e]))
        for e in range(len(ks.options))
        if ks.options[e].size
    ]
    return float(np.mean(held)) if held else 0.0


def whole_requests(p: Problem, chosen: list[int]) -> list[int]:
    """The options of `chosen` whose request has every slot filled (a dive can end half-way
    through a request of several slots)."""
    if not chosen:
        return []
    arr = np.asarray(chosen, dtype=np.int64)
    filled = np.zeros(p.n_slots, dtype=bool)
    filled[p.s[arr]] = True
    whole = np.ones(p.n_requests, dtype=bool)
    np.logical_and.at(whole, p.slot_request, filled)
    return [int(o) for o in arr[whole[p.r[arr]]]]


def search(
    p: Problem,
    starts: list[list[int]],
    u0: np.ndarray | None,
    lp: tuple[np.ndarray, np.ndarray] | None,
    cg_deadline: float,
    deadline: float,
) -> Outcome:
    """Column generation until `cg_deadline` (or until it converges), then the dive until `deadline`."""
    s = Search(p, starts, u0, lp)
    value, converged = s.generate(cg_deadline)
    if not converged:
        s.polish(deadline)
    out = Outcome(s.best, value, converged, s.rounds)
    if time.monotonic() < deadline:
        out.chosen, out.dives = s.dive(deadline)
    return out
