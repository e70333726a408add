"""Greedy plans: requests one by one, each taking for every slot the first option in a ranking
that still fits. Always fast (a verified plan within a moment, whatever happens).

- `baseline`: the most urgent requests first, each taking its cheapest fitting option: what a
  careful person would do by hand, and the yardstick of the benchmark.
- `rounded`: the LP relaxation's advice: first the requests the LP covers whole, then the rest
  by urgency, each taking the option that uses the scarcest resources least (lowest price at
  the duals). Much closer to the bound; the CP-SAT model starts from the better of the two.
"""

from __future__ import annotations

import numpy as np

from services.matcher.solver.problem import Problem


class Room:
    """What is left under each limit while a greedy plan is built (plain lists: fast to poke)."""

    def __init__(self, p: Problem) -> None:
        e, c_min, c_vnd, c_n = np.split(p.room, p.limit_splits)
        self.e, self.c_min, self.c_vnd, self.c_n = e.tolist(), c_min.tolist(), c_vnd.tolist(), c_n.tolist()
        self.budget = p.has_budget.tolist()

    def copy(self) -> Room:
        twin = object.__new__(Room)
        twin.e, twin.c_min, twin.c_vnd, twin.c_n = self.e[:], self.c_min[:], self.c_vnd[:], self.c_n[:]
        twin.budget = self.budget
        return twin

    def fits(self, e: int, c: int, m: int, cost: int) -> bool:
        return (
            self.e[e] >= m and self.c_min[c] >= m and self.c_n[c] >= 1 and (not self.budget[c] or self.c_vnd[c] >= cost)
        )

    def take(self, e: int, c: int, m: int, cost: int, sign: int = 1) -> None:
        self.e[e] -= sign * m
        self.c_min[c] -= sign * m
        self.c_n[c] -= sign
        if self.budget[c]:
            self.c_vnd[c] -= sign * cost


class Ranking:
    """Each slot's free options in order of preference."""

    def __init__(self, p: Problem, keys: tuple[np.ndarray, ...]) -> None:
        self.order = np.lexsort((*keys, p.s)) if p.n else np.zeros(0, dtype=np.int64)
        self.starts = np.searchsorted(p.s[self.order], np.arange(p.n_slots + 1))
        self.p = p

    def of_slot(self, sid: int) -> list[tuple[int, int, int, int, int]]:
        p, rows = self.p, self.order[self.starts[sid] : self.starts[sid + 1]]
        return list(
            zip(
                rows.tolist(),
                p.e[rows].tolist(),
                p.c[rows].tolist(),
                p.minutes[rows].tolist(),
                p.cost[rows].tolist(),
                strict=True,
            )
        )


def slots_by_request(p: Problem) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for sid, r in enumerate(p.slot_request.tolist()):
        out.setdefault(r, []).append(sid)
    return out


def fill(p: Problem, requests: list[int], ranking: Ranking, room: Room, chosen: list[int]) -> list[int]:
    """Add to `chosen` a whole request at a time, in the given order; a request that cannot get
    every slot takes nothing."""
    pinned_experts: dict[int, set[int]] = {}
    exp_pos = {e.id: k for k, e in enumerate(p.sc.experts)}
    req_pos = {r.id: k for k, r in enumerate(p.sc.requests)}
    for pin in p.pins:
        pinned_experts.setdefault(req_pos[pin.request], set()).add(exp_pos[pin.expert])
    done = set(p.s[np.asarray(chosen, dtype=np.int64)].tolist()) if chosen else set()
    slots = slots_by_request(p)
    for r in requests:
        if not p.free_request[r] or any(sid in done for sid in slots[r]):
            continue
        used = set(pinned_experts.get(r, ()))
        got: list[tuple[int, int, int, int, int]] = []
        for sid in slots[r]:
            pick = next((o for o in ranking.of_slot(sid) if o[1] not in used and room.fits(*o[1:])), None)
            if pick is None:
                for o in got:
                    room.take(*o[1:], sign=-1)
                got = []
                break
            room.take(*pick[1:])
            used.add(pick[1])
            got.append(pick)
        chosen.extend(o[0] for o in got)
    return chosen


def urgency_order(p: Problem) -> list[int]:
    reqs = p.sc.requests
    return sorted(range(len(reqs)), key=lambda k: (-int(p.weight[k]), reqs[k].deadline, reqs[k].id))


def baseline(p: Problem, room: Room | None = None, without: int | None = None) -> list[int]:
    """Most urgent first, cheapest option first (then least travel, most local); `without`: a
    request left out (to see what the others would take)."""
    t = p.table
    keys = (p.c, p.e, t.local_rank[p.idx], t.travel[p.idx], p.cost)
    order = [r for r in urgency_order(p) if r != without]
    return fill(p, order, Ranking(p, keys), room or Room(p), [])


def rounded(p: Problem, price: np.ndarray, lp_columns: np.ndarray, lp_x: np.ndarray) -> list[int]:
    """The LP solution rounded: requests the LP covers whole first, then the rest by urgency;
    each slot tries its options by price at the duals, the LP's own choice first among equals."""
    x = np.zeros(p.n)
    x[lp_columns] = lp_x
    y = np.zeros(p.n_requests)
    np.add.at(y, p.r, x)
    y = np.round(y, 6)
    reqs = p.sc.requests
    order = sorted(range(len(reqs)), key=lambda k: (-y[k], -int(p.weight[k]), reqs[k].deadline, reqs[k].id))
    return fill(p, order, Ranking(p, (np.round(price, 6), -np.round(x, 6))), Room(p), [])


def complete(p: Problem, chosen: list[int]) -> list[int]:
    """`chosen` plus every request that still fits in what it leaves, the heaviest first and, among
    equals, the one that needs the fewest minutes; each slot takes its shortest fitting option (a
    plan found on a restricted set of options can leave room that options outside it fill)."""
    room = Room(p)
    for o in chosen:
        room.take(int(p.e[o]), int(p.c[o]), int(p.minutes[o]), int(p.cost[o]))
    need = np.zeros(p.n_requests, dtype=np.int64)
    shortest = np.full(p.n_slots, np.iinfo(np.int64).max)
    np.minimum.at(shortest, p.s, p.minutes)
    np.add.at(need, p.slot_request, np.where(shortest == np.iinfo(np.int64).max, 0, shortest))
    reqs = p.sc.requests
    order = sorted(range(len(reqs)), key=lambda k: (-int(p.weight[k]), int(need[k]), reqs[k].deadline, reqs[k].id))
    return fill(p, order, Ranking(p, (p.cost, p.minutes)), room, list(chosen))
