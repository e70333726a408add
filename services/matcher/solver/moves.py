"""Local moves after the restricted MIP on a large problem.

SCIP's plan is the best on a few thousand options; a move that needs one option outside them
stays unseen. For each uncovered one-slot request, heaviest first, and each of its options:

- insert it where it fits;
- or make room: move one of that expert's one-slot tasks (same contract) to another expert with
  room, then insert;
- or, when nothing can move, take the place of a lighter task there.

Every move raises covered weight and keeps every limit (the room is checked at each step, so a
stale hint is skipped, never applied). Passes repeat until one gains nothing or time is up; on the
country benchmark this added about twenty points of weight in about 3 s.
"""

from __future__ import annotations

import time

import numpy as np

from services.matcher.solver.greedy import Room
from services.matcher.solver.problem import Problem


def improve(p: Problem, chosen: list[int], deadline: float) -> list[int]:
    one_slot = np.bincount(p.slot_request, minlength=p.n_requests)[p.slot_request] == 1
    at = np.full(p.n_slots, -1, dtype=np.int64)
    at[p.s[np.asarray(chosen, dtype=np.int64)]] = chosen
    by_slot = np.lexsort((p.minutes, p.s))  # each slot's options, shortest first
    starts = np.searchsorted(p.s[by_slot], np.arange(p.n_slots + 1))
    while time.monotonic() < deadline:
        state = _State(p, at, by_slot, starts, one_slot)
        if not state.one_pass(deadline):
            break
        at = state.at
    return [int(o) for o in at[at >= 0]]


class _State:
    def __init__(
        self, p: Problem, at: np.ndarray, by_slot: np.ndarray, starts: np.ndarray, one_slot: np.ndarray
    ) -> None:
        self.p, self.at, self.by_slot, self.starts = p, at.copy(), by_slot, starts
        self.room = Room(p)
        self.tasks: dict[int, set[int]] = {}
        for o in at[at >= 0].tolist():
            self.room.take(*self.args(o))
            if one_slot[p.s[o]]:
                self.tasks.setdefault(int(p.e[o]), set()).add(o)
        self.elsewhere = self._elsewhere()
        open_slots = np.flatnonzero((at < 0) & one_slot & p.free_request[p.slot_request])
        weight = p.weight[p.slot_request[open_slots]]
        self.open = open_slots[np.argsort(-weight, kind="stable")].tolist()

    def args(self, o: int) -> tuple[int, int, int, int]:
        p = self.p
        return int(p.e[o]), int(p.c[o]), int(p.minutes[o]), int(p.cost[o])

    def _elsewhere(self) -> dict[int, int]:
        """Per assigned slot, an option with another expert that fits the room as it is now."""
        p, r = self.p, self.room
        e_room, c_min, c_vnd, c_n = (np.array(a) for a in (r.e, r.c_min, r.c_vnd, r.c_n))
        fits = (
            (e_room[p.e] >= p.minutes)
            & (c_min[p.c] >= p.minutes)
            & (c_n[p.c] >= 1)
            & (~p.has_budget[p.c] | (c_vnd[p.c] >= p.cost))
        )
        taken = self.at[p.s]
        ok = np.flatnonzero(fits & (taken >= 0) & (p.e != p.e[np.maximum(taken, 0)]))
        return dict(zip(p.s[ok].tolist(), ok.tolist(), strict=True))

    def weight_of(self, slot: int) -> int:
        return int(self.p.weight[self.p.slot_request[slot]])

    def put(self, o: int, sign: int = 1) -> None:
        p = self.p
        self.room.take(*self.args(o), sign=sign)
        e = int(p.e[o])
        if sign > 0:
            self.at[p.s[o]] = o
            self.tasks.setdefault(e, set()).add(o)
        else:
            self.at[p.s[o]] = -1
            self.tasks[e].discard(o)

    def one_pass(self, deadline: float) -> bool:
        gained = False
        for q in self.open:
            if time.monotonic() > deadline:
                break
            if self.at[q] < 0 and self._place(q):
                gained = True
        return gained

    def _place(self, q: int) -> bool:
        p, room = self.p, self.room
        options = self.by_slot[self.starts[q] : self.starts[q + 1]].tolist()
        for o in options:
            if room.fits(*self.args(o)):
                self.put(o)
                return True
        swap: tuple[int, int] | None = None
        for o in options:
            e, c = int(p.e[o]), int(p.c[o])
            for a in sorted(self.tasks.get(e, ()), key=lambda a: (self.weight_of(int(p.s[a])), a)):
                if int(p.c[a]) != c:
                    continue
                self.put(a, -1)
                if room.fits(*self.args(o)):
                    alt = self.elsewhere.get(int(p.s[a]), -1)
                    self.put(o)
                    if alt >= 0 and room.fits(*self.args(alt)):
                        self.put(alt)
                        return True
                    self.put(o, -1)
                    if swap is None and self.weight_of(int(p.s[a])) < self.weight_of(q):
                        swap = (o, a)
                self.put(a)
        if swap is None:
            return False
        o, a = swap
        self.put(a, -1)
        self.put(o)
        return True
