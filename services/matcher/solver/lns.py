"""Large-neighbourhood search on coverage: SCIP on small pieces of the whole problem.

SCIP on the restricted set (`mip.py`) is exact on a few thousand options, but on instances with
long tasks, nearly used-up contracts or small local markets the options that would lift coverage
are outside that set, and a wider set makes SCIP spend its time on cuts at the root. Here every
step frees a few dozen experts that compete for the same work (starting from an uncovered
request's candidates, then those who could take over their tasks), keeps everyone else's
assignments fixed, and lets SCIP re-plan exactly those experts over every option they have on the
requests left open to them. A step never loses weight (the current plan is its hint and SCIP
returns its best); the piece grows while SCIP proves its steps quickly and shrinks when it does
not. Measured on the generator's shapes at 2 000 x 400 (docs/performance.md): this is what takes
them from 98.5 to 99% of the proven bound past 99.5%.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver.problem import Problem

#: Experts freed in a step at first; the piece doubles or halves (within MIN..MAX) as steps go.
START_EXPERTS = 24
MIN_EXPERTS = 6
MAX_EXPERTS = 120
#: Seconds one step may take at most.
STEP_S = 2.0
#: Uncovered requests one step may try to place, per expert freed (the heaviest, ties at random).
OPEN_PER_EXPERT = 3


class Search:
    def __init__(self, p: Problem, chosen: list[int], seed: int, keep: list[int] | None = None) -> None:
        self.p = p
        self.at = np.full(p.n_slots, -1, dtype=np.int64)
        self.at[p.s[np.asarray(chosen, dtype=np.int64)]] = chosen
        self.rng = np.random.default_rng(seed)
        self.by_expert = np.argsort(p.e, kind="stable")
        self.expert_starts = np.searchsorted(p.e[self.by_expert], np.arange(len(p.sc.experts) + 1))
        self.slot_starts = np.searchsorted(p.s, np.arange(p.n_slots + 1))  # options are in slot order
        self.n_slots_of = np.bincount(p.slot_request, minlength=p.n_requests)
        self.size = START_EXPERTS
        self.keep = set(keep or ())
        self.steps = self.gained = 0

    def chosen(self) -> list[int]:
        return [int(o) for o in self.at[self.at >= 0]]

    def run(self, deadline: float) -> list[int]:
        while deadline - time.monotonic() > 0.1:
            experts = self.neighbourhood()
            if experts.size == 0:
                break
            began = time.monotonic()
            proven = self.step(experts, min(STEP_S, deadline - began))
            self.steps += 1
            fast = proven and time.monotonic() - began < 0.3 * STEP_S
            self.size = min(MAX_EXPERTS, self.size * 2) if fast else max(MIN_EXPERTS, self.size // 2)
        return self.chosen()

    def neighbourhood(self) -> np.ndarray:
        """Experts who compete for one uncovered request (weighted towards heavy ones), then those
        who could take over their tasks, until the piece has `size` experts."""
        p = self.p
        filled = self.at >= 0
        covered = np.ones(p.n_requests, dtype=bool)
        np.logical_and.at(covered, p.slot_request, filled)
        open_slots = np.flatnonzero(~filled & p.free_request[p.slot_request]
                                    & (self.slot_starts[1:] > self.slot_starts[:-1]))
        if open_slots.size == 0:
            return np.zeros(0, dtype=np.int64)
        w = p.weight[p.slot_request[open_slots]].astype(float)
        q = int(self.rng.choice(open_slots, p=w / w.sum()))
        picked: list[int] = []
        seen: set[int] = set()
        frontier = [q]
        while frontier and len(picked) < self.size:
            slot = frontier.pop(0)
            experts = np.unique(p.e[self.slot_starts[slot]:self.slot_starts[slot + 1]])
            self.rng.shuffle(experts)
            for e in experts.tolist():
                if e in seen or len(picked) >= self.size:
                    continue
                seen.add(e)
                picked.append(e)
                # The slots this expert holds: who else could take them is the next ring.
                mine = self.by_expert[self.expert_starts[e]:self.expert_starts[e + 1]]
                held = mine[self.at[p.s[mine]] == mine]
                frontier.extend(p.s[held].tolist())
            if not frontier and len(picked) < self.size:
                more = open_slots[self.rng.integers(open_slots.size)]
                frontier.append(int(more))
                if len(seen) >= len(p.sc.experts):
                    break
        return np.array(sorted(picked), dtype=np.int64)

    def step(self, experts: np.ndarray, time_limit_s: float) -> bool:
        """Re-plan `experts` exactly; True when SCIP proved the piece's optimum."""
        p = self.p
        inside = np.zeros(len(p.sc.experts), dtype=bool)
        inside[experts] = True
        holder = np.where(self.at >= 0, p.e[np.maximum(self.at, 0)], -1)
        slot_free = (self.at < 0) | inside[np.maximum(holder, 0)] & (holder >= 0)
        request_free = p.free_request.copy()
        np.logical_and.at(request_free, p.slot_request, slot_free)
        mine = np.concatenate([self.by_expert[self.expert_starts[e]:self.expert_starts[e + 1]] for e in experts])
        cols = mine[request_free[p.r[mine]]]
        covered = np.ones(p.n_requests, dtype=bool)
        np.logical_and.at(covered, p.slot_request, self.at >= 0)
        open_r = np.unique(p.r[cols][~covered[p.r[cols]]])
        cap = OPEN_PER_EXPERT * experts.size
        if open_r.size > cap:
            order = np.lexsort((self.rng.random(open_r.size), -p.weight[open_r]))
            drop = np.zeros(p.n_requests, dtype=bool)
            drop[open_r[order[cap:]]] = True
            cols = cols[~drop[p.r[cols]]]
        cols = np.sort(cols)
        # Requests in the piece: free, and each slot with an option here.
        has = np.zeros(p.n_slots, dtype=bool)
        has[p.s[cols]] = True
        in_piece = request_free.copy()
        np.logical_and.at(in_piece, p.slot_request, has)
        cols = cols[in_piece[p.r[cols]]]
        if cols.size == 0:
            return True
        before = self.at[np.isin(p.slot_request, np.flatnonzero(in_piece))]
        current = before[before >= 0]
        fixed = self.at[(self.at >= 0) & ~in_piece[p.slot_request]]
        room = _room_left(p, fixed)
        found, proven = _solve(p, cols, np.flatnonzero(in_piece), room, current, time_limit_s, self.keep)
        if found is None:
            return False
        gain = p.covered(found) - p.covered(current.tolist())
        if gain < 0 or (gain == 0 and not self.keep):
            return proven
        self.at[np.isin(p.slot_request, np.flatnonzero(in_piece))] = -1
        self.at[p.s[np.asarray(found, dtype=np.int64)]] = found
        self.gained += gain
        return proven


def _room_left(p: Problem, fixed: np.ndarray) -> np.ndarray:
    room = p.room.astype(np.int64).copy()
    offsets = [0, *p.limit_splits]
    for (key, coef, _), off in zip(p.limit_rows(), offsets, strict=True):
        np.subtract.at(room, off + key[fixed], coef[fixed].astype(np.int64))
    return room


def _solve(p: Problem, cols: np.ndarray, requests: np.ndarray, room: np.ndarray, current: np.ndarray,
           time_limit_s: float, keep: set[int]) -> tuple[list[int] | None, bool]:
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None or time_limit_s <= 0.05:
        return None, False
    x = {o: solver.BoolVar("") for o in cols.tolist()}
    y = {r: solver.BoolVar("") for r in requests.tolist()}
    by_slot: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    by_pair: dict[tuple[int, int], list[pywraplp.Variable]] = defaultdict(list)
    for o, s, r, e in zip(cols.tolist(), p.s[cols].tolist(), p.r[cols].tolist(), p.e[cols].tolist(), strict=True):
        by_slot[s].append(x[o])
        by_pair[(r, e)].append(x[o])
    for s, vs in by_slot.items():
        solver.Add(solver.Sum(vs) == y[int(p.slot_request[s])])
    for vs in by_pair.values():
        if len(vs) > 1:
            solver.Add(solver.Sum(vs) <= 1)
    offsets = [0, *p.limit_splits]
    for (key, coef, _), off in zip(p.limit_rows(), offsets, strict=True):
        rows: dict[int, list[tuple[int, pywraplp.Variable]]] = defaultdict(list)
        for o, k, a in zip(cols.tolist(), key[cols].tolist(), coef[cols].tolist(), strict=True):
            if a:
                rows[k].append((a, x[o]))
        for k, terms in rows.items():
            left = max(0, int(room[off + k]))
            if sum(a for a, _ in terms) > left:
                solver.Add(solver.Sum([a * v for a, v in terms]) <= left)
    coverage = solver.Sum([int(p.weight[r]) * v for r, v in y.items()])
    liked = [x[o] for o in sorted(keep) if o in x]
    solver.Maximize(coverage + solver.Sum(liked) * (1.0 / (len(liked) + 1)) if liked else coverage)
    now = set(current.tolist())
    done = {int(p.r[o]) for o in now}
    solver.SetHint([*x.values(), *y.values()], [float(o in now) for o in x] + [float(r in done) for r in y])
    solver.SetTimeLimit(max(1, int(time_limit_s * 1000)))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, False
    return [o for o, v in x.items() if v.solution_value() > 0.5], status == pywraplp.Solver.OPTIMAL
