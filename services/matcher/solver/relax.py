"""The linear relaxation, solved by column generation, and the upper bound it proves.

Coverage can be no better than the LP relaxation's optimum, and that optimum is found without
handing the LP every option: start from a few promising columns, solve with GLOP, price every
option against the duals (one numpy pass), add those that would improve, repeat. At any moment
the duals also give a Lagrangian bound valid for the whole problem, converged or not:

    bound = sum over limits of (dual x room)
          + sum over free requests of max(0, weight - sum over its slots of the cheapest price)
          + weight of fully pinned requests

where an option's price is what its minutes, money and concurrent slot cost at the duals. So the
upper bound a plan reports is proven even when time runs out. The prices are also the engine's
sense of scarcity: on a large problem they choose the options SCIP and CP-SAT are given.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver.problem import Problem

PER_SLOT = 3  # columns added per slot and round
SUBGRADIENT_STEPS = 150
#: Share of the LP's time the subgradient seed may use.
SUBGRADIENT_SHARE = 0.2
EPS = 1e-7


@dataclass
class Relaxation:
    bound: float  # proven upper bound on covered weight (pinned requests included); inf if no LP solved
    lp_value: float  # the restricted LP's optimum (equals the bound once converged)
    price: np.ndarray  # per free option, at the final duals
    columns: np.ndarray  # free options the last LP used
    x: np.ndarray  # their LP values
    slot_value: np.ndarray  # per slot, what filling it is worth at the LP optimum (minus its dual)
    rounds: int
    converged: bool
    seconds: float = 0.0  # the wall time it took (a gauge of the machine's load)


def prices(p: Problem, duals: np.ndarray) -> np.ndarray:
    e_min, c_min, c_vnd, c_n = np.split(duals, p.limit_splits)
    money = np.where(p.has_budget[p.c], p.cost, 0)
    return e_min[p.e] * p.minutes + c_min[p.c] * p.minutes + c_vnd[p.c] * money + c_n[p.c]


def cheapest_per_slot(p: Problem, price: np.ndarray) -> np.ndarray:
    cheapest = np.full(p.n_slots, np.inf)
    np.minimum.at(cheapest, p.s, price)
    return cheapest


def lagrangian_bound(p: Problem, duals: np.ndarray, price: np.ndarray) -> float:
    need = np.zeros(p.n_requests)
    np.add.at(need, p.slot_request, cheapest_per_slot(p, price))
    profit = np.where(p.free_request, np.maximum(0.0, p.weight - need), 0.0)
    return float(duals @ p.room + profit.sum() + p.pinned_weight)


def best_per_slot(p: Problem, score: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Up to `k` candidates per slot with the lowest score."""
    if candidates.size == 0:
        return candidates
    order = candidates[np.lexsort((score[candidates], p.s[candidates]))]
    slots = p.s[order]
    first = np.searchsorted(slots, slots, side="left")
    rank = np.arange(order.size) - first
    return order[rank < k]


def _normalised_rows(p: Problem) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Every limit row scaled to a room of 1 (a row with no room at all prices its users out)."""
    rows, sizes = [], []
    for key, coef, room in p.limit_rows():
        r = room[key].astype(float)
        rows.append((key, np.where(r > 0, coef / np.maximum(r, 1.0), np.where(coef > 0, 1e3, 0.0))))
        sizes.append(room.size)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return rows, offsets, np.concatenate([np.where(room > 0, 1.0, 0.0) for _, _, room in p.limit_rows()])


def subgradient(p: Problem, target: float, iterations: int, deadline: float) -> tuple[np.ndarray, float]:
    """Prices of options from a few hundred cheap subgradient steps on the Lagrangian dual
    (capacities relaxed): close to the LP's prices, at a fraction of its cost. They rank the
    columns the LP starts from, so that column generation converges in a round or two. The best
    dual value seen is itself a proven bound (any non-negative multipliers give one)."""
    rows, offsets, room = _normalised_rows(p)
    order = np.argsort(p.s, kind="stable")
    present, starts = np.unique(p.s[order], return_index=True)  # slots with options, where each begins
    lam = np.zeros(room.size)
    best, best_lam, step, stall = np.inf, lam, 1.0, 0
    for _ in range(iterations):
        price = sum(lam[off + key] * coef for (key, coef), off in zip(rows, offsets, strict=False))
        cheapest = np.full(p.n_slots, np.inf)
        if present.size:
            cheapest[present] = np.minimum.reduceat(price[order], starts)
        need = np.zeros(p.n_requests)
        np.add.at(need, p.slot_request, cheapest)
        profit = np.where(p.free_request, p.weight - need, 0.0)
        value = float(lam @ room + profit[profit > 0].sum())
        if value < best - 1e-9:
            best, best_lam, stall = value, lam, 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2, 0
        if time.monotonic() > deadline:
            break
        # The subgradient: room minus what the cheapest option of every profitable slot uses.
        pick = _argmin_per_slot(p, price, order, cheapest)
        pick = pick[profit[p.r[pick]] > 0]
        use = np.zeros(room.size)
        for (key, coef), off in zip(rows, offsets, strict=False):
            np.add.at(use, off + key[pick], coef[pick])
        g = room - use
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.maximum(0.0, lam - step * (value - target) / norm * g)
    price = sum(best_lam[off + key] * coef for (key, coef), off in zip(rows, offsets, strict=False))
    return price, best + p.pinned_weight


def _argmin_per_slot(p: Problem, price: np.ndarray, order: np.ndarray, cheapest: np.ndarray) -> np.ndarray:
    at_min = np.flatnonzero(price[order] == cheapest[p.s[order]])
    slots = p.s[order][at_min]
    first = np.ones(at_min.size, dtype=bool)
    first[1:] = slots[1:] != slots[:-1]
    return order[at_min[first]]


def initial_columns(p: Problem, start: list[int], deadline: float) -> tuple[np.ndarray, float]:
    price, bound = subgradient(p, float(p.covered(start) - p.pinned_weight), SUBGRADIENT_STEPS, deadline)
    cheap = best_per_slot(p, price, np.arange(p.n), PER_SLOT)
    return np.union1d(np.asarray(start, dtype=np.int64), cheap), bound


class Master:
    """The restricted LP, kept alive between rounds: column generation only appends columns, and
    GLOP is handed the grown model (whose last basis it can start from) rather than a new one.
    Measured on the country-sized benchmark: a round takes 0.5 to 5 s this way, 10 s and more when
    the model was rebuilt every round."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        inf = self.solver.infinity()
        self.y = [self.solver.NumVar(0.0, float(free), "") for free in p.free_request.tolist()]
        self.slot_rows = []
        for r in p.slot_request.tolist():
            ct = self.solver.Constraint(0.0, 0.0)
            ct.SetCoefficient(self.y[r], -1.0)
            self.slot_rows.append(ct)
        self.families = p.limit_rows()
        self.limit_rows, self.own_dual = self._limit_rows(inf)
        objective = self.solver.Objective()
        for y, w in zip(self.y, p.weight.tolist(), strict=True):
            objective.SetCoefficient(y, float(w))
        objective.SetMaximization()
        self.columns = np.zeros(0, dtype=np.int64)
        self.x: list[pywraplp.Variable] = []

    def _limit_rows(self, inf: float) -> tuple[list[list[pywraplp.Constraint | None]], np.ndarray]:
        """One constraint per limit row, except: rows no option uses (a contract without budget, an
        expert without options) are left out, and the minutes row of an expert's only contract is
        the expert's own row with the lesser room (the same options, the same coefficients). A
        sixth fewer rows on the benchmark, and GLOP's rounds are that much faster. `own_dual`:
        which limit rows carry the dual of their constraint (of an alias pair, the one whose room
        the constraint has; the other carries 0)."""
        p = self.p
        ne, nc = len(p.sc.experts), len(p.sc.contracts)
        used = [np.bincount(key[coef != 0], minlength=room.size) > 0 for key, coef, room in self.families]
        pairs = np.unique(p.e * nc + p.c)
        e_of, c_of = pairs // nc, pairs % nc
        sole = np.bincount(e_of, minlength=ne)[e_of] == 1  # the expert's only contract among the options
        alias = np.full(nc, -1, dtype=np.int64)
        alias[c_of[sole]] = e_of[sole]
        e_room = self.families[0][2].astype(float).copy()
        c_min_room = self.families[1][2]
        has = alias >= 0
        np.minimum.at(e_room, alias[has], c_min_room[has].astype(float))
        rows: list[list[pywraplp.Constraint | None]] = []
        for f, (_, _, room) in enumerate(self.families):
            ub = e_room if f == 0 else room.astype(float)
            rows.append(
                [
                    self.solver.Constraint(-inf, float(ub[k])) if used[f][k] and not (f == 1 and has[k]) else None
                    for k in range(room.size)
                ]
            )
        rows[1] = [rows[0][alias[k]] if has[k] else ct for k, ct in enumerate(rows[1])]
        # The shared constraint's dual goes to the row whose room it is, so that duals x room
        # (the Lagrangian bound) stays what it would be with both rows.
        own = np.ones(ne + 3 * nc, dtype=bool)
        contract_binds = has & (c_min_room < self.families[0][2][np.maximum(alias, 0)])
        own[alias[contract_binds]] = False
        own[ne + np.flatnonzero(has & ~contract_binds)] = False
        self.aliased = has
        return rows, own

    def add(self, cols: np.ndarray) -> None:
        p = self.p
        fresh = np.setdiff1d(cols, self.columns)
        keys = [(key[fresh].tolist(), coef[fresh].tolist()) for key, coef, _ in self.families]
        for j, o in enumerate(fresh.tolist()):
            v = self.solver.NumVar(0.0, 1.0, "")
            self.x.append(v)
            self.slot_rows[p.s[o]].SetCoefficient(v, 1.0)
            for f, ((key, coef), rows) in enumerate(zip(keys, self.limit_rows, strict=True)):
                ct = rows[key[j]]
                if coef[j] and ct is not None and not (f == 1 and self.aliased[key[j]]):
                    ct.SetCoefficient(v, float(coef[j]))
        self.columns = np.concatenate([self.columns, fresh])

    def solve(self, time_limit: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(objective, duals of the limit rows, duals of the slot rows, x per column in `columns`)."""
        if math.isfinite(time_limit):
            self.solver.SetTimeLimit(int(max(0.1, time_limit) * 1000))
        status = self.solver.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            raise TimeoutError(f"LP relaxation: status {status}")
        duals = np.array([ct.dual_value() if ct is not None else 0.0 for rows in self.limit_rows for ct in rows])
        limit_duals = np.where(self.own_dual, np.maximum(duals, 0.0), 0.0)
        slot_duals = np.array([ct.dual_value() for ct in self.slot_rows])
        x = np.array([v.solution_value() for v in self.x])
        return self.solver.Objective().Value(), limit_duals, slot_duals, x


def relax(p: Problem, start: list[int], deadline: float, max_rounds: int = 30) -> Relaxation:
    began = time.monotonic()
    cols, best = initial_columns(p, start, began + SUBGRADIENT_SHARE * (deadline - began))
    master = Master(p)
    master.add(cols)
    price = np.zeros(p.n)
    lp, x, rounds, converged = 0.0, np.zeros(0), 0, False
    slot_duals = np.zeros(p.n_slots)
    used = cols[:0]
    while rounds < max_rounds:
        try:
            lp, duals, slot_duals, x = master.solve(deadline - time.monotonic())
        except TimeoutError:
            break  # the last round's duals still give a valid bound
        rounds += 1
        used = master.columns
        lp += p.pinned_weight
        price = prices(p, duals)
        best = min(best, lagrangian_bound(p, duals, price))
        # An option improves the LP when its slot's dual exceeds its price (reduced cost > 0).
        gain = -slot_duals[p.s] - price if slot_duals.size else np.zeros(p.n)
        fresh = np.setdiff1d(np.flatnonzero(gain > EPS), master.columns)
        if fresh.size == 0 or best - lp <= 1e-6:
            converged = True
            break
        if time.monotonic() > deadline:
            break
        master.add(best_per_slot(p, -gain, fresh, PER_SLOT))
    return Relaxation(best, lp, price, used, x, -slot_duals, rounds, converged, time.monotonic() - began)
