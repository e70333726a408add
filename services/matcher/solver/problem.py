"""The problem as the algorithms see it: the free options (those the pins leave open) as arrays,
the slots they fill, the requests' weights and the room left under every limit once the pins
are taken out. Built once per solve; the greedy heuristics, the relaxation and the CP-SAT model
all read it, none changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.matcher.solver.limits import Limits, weight
from services.matcher.solver.options import Option
from services.matcher.solver.table import OptionTable
from shared.scenario import Scenario


@dataclass
class Problem:
    sc: Scenario
    table: OptionTable
    pins: list[Option]
    idx: np.ndarray  # free option -> its row in the table
    r: np.ndarray  # free option -> request position
    s: np.ndarray  # free option -> slot id (0 .. n_slots-1)
    e: np.ndarray
    c: np.ndarray
    minutes: np.ndarray
    cost: np.ndarray
    slot_request: np.ndarray  # slot id -> request position
    slot_index: np.ndarray  # slot id -> slot number within its request
    weight: np.ndarray  # request position -> priority weight
    free_request: np.ndarray  # the request still has slots to fill, each with an option
    pinned_weight: int  # weight of requests whose every slot is pinned
    room: np.ndarray  # expert minutes | contract minutes | contract money | contract slots
    has_budget: np.ndarray

    @property
    def n(self) -> int:
        return int(self.idx.size)

    @property
    def n_slots(self) -> int:
        return int(self.slot_request.size)

    @property
    def n_requests(self) -> int:
        return len(self.sc.requests)

    @property
    def limit_splits(self) -> list[int]:
        ne, nc = len(self.sc.experts), len(self.sc.contracts)
        return [ne, ne + nc, ne + 2 * nc]

    def limit_rows(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(row key per option, coefficient per option, room per row) for each family of limits."""
        ne, nc = len(self.sc.experts), len(self.sc.contracts)
        room = np.split(self.room, self.limit_splits)
        money = np.where(self.has_budget[self.c], self.cost, 0)
        assert room[0].size == ne and room[1].size == nc
        return [
            (self.e, self.minutes, room[0]),
            (self.c, self.minutes, room[1]),
            (self.c, money, room[2]),
            (self.c, np.ones_like(self.minutes), room[3]),
        ]

    def option(self, i: int) -> Option:
        return self.table.option(int(self.idx[i]))

    def covered(self, chosen: list[int]) -> int:
        """Covered weight of pins plus free options `chosen` (positions in this problem)."""
        filled = np.zeros(self.n_slots, dtype=bool)
        filled[self.s[np.asarray(chosen, dtype=np.int64)]] = True
        per_request = np.ones(self.n_requests, dtype=bool)
        np.logical_and.at(per_request, self.slot_request, filled)
        return int(self.weight[per_request & self.free_request].sum()) + self.pinned_weight


def fits_alone(table: OptionTable, room: np.ndarray, has_budget: np.ndarray, n_experts: int) -> np.ndarray:
    """Per option of the table: whether it fits the room left on its own. One that does not
    (longer than its expert's or contract's hours left, dearer than the budget left, a contract
    with no concurrent slot left) is in no plan, and left in it loosens the LP a great deal: the
    LP takes a fraction of it. On the generator's mixed shape dropping them took the LP from
    4 636 to 4 601 and the proven bound from 4 435 to 4 416 (the optimum is at most 4 403)."""
    nc = has_budget.size
    e_room, c_min, c_vnd, c_n = np.split(room, [n_experts, n_experts + nc, n_experts + 2 * nc])
    c = table.contract
    return (
        (table.minutes <= e_room[table.expert])
        & (table.minutes <= c_min[c])
        & (c_n[c] >= 1)
        & (~has_budget[c] | (table.cost <= c_vnd[c]))
    )


def build_problem(sc: Scenario, table: OptionTable, pins: list[Option], weights: dict[int, int] | None) -> Problem:
    req_pos = {r.id: k for k, r in enumerate(sc.requests)}
    exp_pos = {e.id: k for k, e in enumerate(sc.experts)}
    pinned_slots = {(req_pos[p.request], p.slot) for p in pins}
    pinned_pairs = {(req_pos[p.request], exp_pos[p.expert]) for p in pins}
    slot_request: list[int]
    slot_request, slot_index, slot_of = [], [], {}
    for ri, r in enumerate(sc.requests):
        for k in range(len(r.effective_slots())):
            if (ri, k) not in pinned_slots:
                slot_of[(ri, k)] = len(slot_request)
                slot_request.append(ri)
                slot_index.append(k)
    lim = Limits.of(sc)
    for p in pins:
        lim.take(p)
    cs = sc.contracts
    room = np.concatenate(
        [
            [max(0, lim.expert_minutes[e.id]) for e in sc.experts],
            [max(0, lim.contract_minutes[c.id]) for c in cs],
            [max(0, lim.contract_budget[c.id] or 0) for c in cs],
            [max(0, lim.contract_slots[c.id]) for c in cs],
        ]
    ).astype(np.int64)
    has_budget = np.array([c.budget_cap_vnd is not None for c in cs], dtype=bool)
    keep = fits_alone(table, room, has_budget, len(sc.experts))
    if pins:
        rows = zip(table.request.tolist(), table.slot.tolist(), table.expert.tolist(), strict=True)
        keep &= np.array([(r, k) not in pinned_slots and (r, e) not in pinned_pairs for r, k, e in rows], dtype=bool)
    idx = np.flatnonzero(keep)
    s_key = table.request[idx].astype(np.int64) * 64 + table.slot[idx]
    # Slot ids were handed out in (request, slot) order, so a key's rank among them is its id.
    keys = np.array([ri * 64 + k for ri, k in slot_of], dtype=np.int64)
    s = np.searchsorted(keys, s_key).astype(np.int64)
    slot_request_a = np.array(slot_request, dtype=np.int64)
    has_option = np.zeros(len(slot_request), dtype=bool)
    has_option[s] = True
    free = np.zeros(len(sc.requests), dtype=bool)
    free[slot_request_a] = True
    np.logical_and.at(free, slot_request_a, has_option)
    w = np.array([weight(r.priority, weights) for r in sc.requests], dtype=np.int64)
    all_pinned = np.ones(len(sc.requests), dtype=bool)
    all_pinned[slot_request_a] = False
    return Problem(
        sc,
        table,
        pins,
        idx,
        table.request[idx].astype(np.int64),
        s,
        table.expert[idx].astype(np.int64),
        table.contract[idx].astype(np.int64),
        table.minutes[idx],
        table.cost[idx],
        slot_request_a,
        np.array(slot_index, dtype=np.int64),
        w,
        free,
        int(w[all_pinned].sum()),
        room,
        has_budget,
    )
