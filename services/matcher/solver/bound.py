"""A tighter proven bound: Lagrangian relaxation of "each slot gets at most one expert".

The LP relaxation lets an expert take a fraction of a request to fill the last minutes of a
contract; on tight provinces that alone can put the LP a percent above the best possible plan.
Relaxing the other way round (price each slot at u, let each expert solve an exact knapsack over
the slots it could fill) keeps every expert's limits whole:

    bound(u) = sum over requests of max(0, weight - sum of its slots' u)
             + sum over experts of the best set of slots it could fill, valued at u

For any u this is at least the optimum (a plan is feasible for every term); starting from the
LP's slot duals it is no weaker than the LP bound (and measured about 0.5% tighter on the
benchmark's provinces, where that is the difference between 99.5% and 99%).

Each expert's knapsack is itself relaxed a little so that it is fast and still valid: money
turned into minutes through the hourly rate (cost is never below minutes x rate), an expert with
several contracts pooling their room, and, only for an expert whose table would be huge (hundreds
of hours and dozens of concurrent tasks), minutes counted in coarser grains, rounded down (a
feasible set stays feasible). Options that enough others dominate are dropped first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from services.matcher.solver.problem import Problem

#: Cells (count x minutes) an expert's knapsack table may have; beyond, minutes are counted in
#: grains just coarse enough. The benchmark's experts (up to 60 hours, 8 tasks) stay exact: the
#: coarser the looser (country benchmark: 1 minute -> 41 160, 5 -> 41 189, 15 -> 41 267).
MAX_CELLS = 200_000
#: Beyond this many cells for all its options, an expert's choice is not traced (the bound stands).
MAX_TRACE_CELLS = 50_000_000


@dataclass
class Knapsacks:
    """Per expert: its options (positions in the problem), scaled minutes, minute and count room."""

    options: list[np.ndarray]
    grains: list[np.ndarray]
    cap: np.ndarray
    count: np.ndarray


def knapsacks(p: Problem) -> Knapsacks:
    e_room, c_min, c_vnd, c_n = (a.astype(np.int64) for a in np.split(p.room, p.limit_splits))
    rates = np.array([c.hourly_rate_vnd for c in p.sc.contracts], dtype=np.int64)
    by_money = np.where(p.has_budget & (rates > 0), (60 * c_vnd) // np.maximum(rates, 1), np.iinfo(np.int64).max)
    c_cap = np.minimum(c_min, by_money)
    n_e = len(p.sc.experts)
    by_expert = np.argsort(p.e, kind="stable")
    per_expert = np.split(by_expert, np.searchsorted(p.e[by_expert], np.arange(1, n_e)))
    contracts_of: dict[int, list[int]] = defaultdict(list)
    expert_pos = {x.id: k for k, x in enumerate(p.sc.experts)}
    for k, c in enumerate(p.sc.contracts):
        contracts_of[expert_pos[c.expert]].append(k)
    cap = np.zeros(n_e, dtype=np.int64)
    count = np.zeros(n_e, dtype=np.int64)
    options, grains = [], []
    for e in range(n_e):
        cs = contracts_of.get(e, [])
        pooled = int(sum(min(int(c_cap[c]), 10**9) for c in cs))
        os = per_expert[e].astype(np.int64)
        room = min(int(e_room[e]), pooled)
        count[e] = min(sum(int(c_n[c]) for c in cs), os.size)
        grain = max(1, -(-(int(count[e]) + 1) * (room + 1) // MAX_CELLS))
        cap[e] = room // grain
        options.append(os)
        grains.append(p.minutes[os] // grain if os.size else os)
    return Knapsacks(options, grains, cap, count)


def _knapsack(profit: np.ndarray, grains: np.ndarray, cap: int, count: int, trace: bool) -> tuple[float, np.ndarray]:
    """Best value of a knapsack with a capacity (in grains) and a limit on the number of items;
    with `trace`, also which items."""
    value, takes = choices(profit, grains, cap, count, trace, every_count=False)
    return value, takes[0] if takes else np.zeros(profit.size, dtype=bool)


def choices(
    profit: np.ndarray, grains: np.ndarray, cap: int, count: int, trace: bool, every_count: bool = True
) -> tuple[float, list[np.ndarray]]:
    """The knapsack's best value and, with `trace`, its best set of items; with `every_count`,
    also the best set of each smaller number of items (other good schedules, from the same table)."""
    n = profit.size
    count = min(count, n)
    if n == 0 or count <= 0 or cap < 0:
        return 0.0, []
    trace = trace and n * (count + 1) * (cap + 1) <= MAX_TRACE_CELLS  # the choice is a hint only
    best = np.full((count + 1, cap + 1), -np.inf)
    best[0, :] = 0.0
    keep = np.zeros((n, count + 1, cap + 1), dtype=bool) if trace else None
    for i, (value, w) in enumerate(zip(profit.tolist(), grains.tolist(), strict=True)):
        if w > cap:
            continue
        # Items one at a time, each at most once: read the table as it was before this item.
        cand = best[:-1, : cap + 1 - w] + value
        if keep is not None:
            keep[i, 1:, w:] = cand > best[1:, w:]
        np.maximum(best[1:, w:], cand, out=best[1:, w:])
    k, c = np.unravel_index(int(np.argmax(best)), best.shape)
    value = float(best[k, c])
    if keep is None:
        return value, []
    starts = [(int(k), int(c))]
    if every_count:
        starts += [(j, int(np.argmax(best[j]))) for j in range(1, count + 1) if j != k and np.isfinite(best[j]).any()]
    return value, [_trace(keep, grains, j, cj) for j, cj in starts]


def _trace(keep: np.ndarray, grains: np.ndarray, k: int, c: int) -> np.ndarray:
    take = np.zeros(keep.shape[0], dtype=bool)
    for i in range(keep.shape[0] - 1, -1, -1):
        if k > 0 and keep[i, k, c]:
            take[i] = True
            c -= int(grains[i])
            k -= 1
    return take


def evaluate(p: Problem, u: np.ndarray, picked: list[np.ndarray] | None = None, ks: Knapsacks | None = None) -> float:
    """bound(u): valid for any u. The options the experts' knapsacks chose go into `picked`."""
    ks = ks or knapsacks(p)
    u = np.maximum(u, 0.0)
    need = np.zeros(p.n_requests)
    np.add.at(need, p.slot_request, u)
    gain = np.where(p.free_request, p.weight - need, 0.0)
    total = float(gain[gain > 0].sum()) + p.pinned_weight
    for os, grains, cap, count in zip(ks.options, ks.grains, ks.cap.tolist(), ks.count.tolist(), strict=True):
        if os.size == 0:
            continue
        profit = u[p.s[os]]
        live = profit > 1e-9
        if not live.any():
            continue
        # One option per slot: the same slot under two contracts is one piece of work.
        live_os, live_g, live_p = _undominated(*_one_per_slot(p, os[live], grains[live], profit[live]), int(count))
        value, take = _knapsack(live_p, live_g, int(cap), int(count), picked is not None)
        total += value
        if picked is not None:
            picked.append(live_os[take])
    return total


def _undominated(os: np.ndarray, grains: np.ndarray, profit: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Drop every option that at least `count` others dominate (worth as much, no longer; ties
    broken by position): some best set never needs it, since one of those others is always free
    to take its place. On the country benchmark this leaves a few percent of the options."""
    n = os.size
    if n <= count:
        return os, grains, profit
    order = np.lexsort((grains, -profit))  # best first: the only possible dominators come before
    g, pr = grains[order], profit[order]
    earlier = np.tri(n, k=-1, dtype=bool).T  # earlier[j, i]: j comes before i
    dominated_by = ((pr[:, None] >= pr[None, :]) & (g[:, None] <= g[None, :]) & earlier).sum(axis=0)
    keep = np.sort(order[dominated_by < count])
    return os[keep], grains[keep], profit[keep]


def _one_per_slot(
    p: Problem, os: np.ndarray, grains: np.ndarray, profit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((grains, p.s[os]))
    slots = p.s[os][order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = slots[1:] != slots[:-1]
    pick = order[first]
    return os[pick], grains[pick], profit[pick]
