"""Continuing from a plan: the assignments currently proposed, given to `solve` as a hint.

The live matcher places new requests at once and re-plans in the background; the re-plan starts
from what is proposed and must not churn. A hint is not a pin: the engine may move a hinted
assignment, but only for coverage (phase 2 of `model.py` pays W_MOVED per hinted slot given to
someone else or left empty, above every cost, travel and fairness term; SCIP breaks its ties
towards the hint).

`seat` turns the hint into the engine's first incumbent: the hinted options that break no rule,
seated in a fixed order (most urgent request first: when they do not all fit, the least urgent
are dropped), requests that could not be seated whole released, then the plan completed greedily.
So the plan `solve` returns covers at least what the usable hint covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.matcher.solver.greedy import Room
from services.matcher.solver.problem import Problem
from shared import limits as L


class HintLike(Protocol):
    """`shared.scenario.Pin` (what `Scenario.pinned` holds) or anything with these four fields."""

    request: str
    slot: int
    expert: str
    contract: str


@dataclass(frozen=True)
class Hint:
    """One proposed assignment to continue from (the same fields as `shared.scenario.Pin`)."""

    request: str
    slot: int
    expert: str
    contract: str


@dataclass
class Seated:
    options: list[int]  # positions in the problem of the hinted options the incumbent starts from
    wanted: dict[int, int]  # slot id -> the hinted option for it (every usable hint, seated or not)
    given: int
    unusable: int  # broke a rule (no such option), pinned otherwise, or did not fit


def find(p: Problem, hint: Sequence[HintLike]) -> tuple[dict[int, int], int]:
    """Slot id -> hinted option, for the hints that are options of this problem; and how many are
    not (unknown request or expert, a broken rule, a pinned slot, a second hint for one slot)."""
    req_pos = {r.id: k for k, r in enumerate(p.sc.requests)}
    exp_pos = {e.id: k for k, e in enumerate(p.sc.experts)}
    con_pos = {c.id: k for k, c in enumerate(p.sc.contracts)}
    slot_no = p.slot_index[p.s]
    wanted: dict[int, int] = {}
    missing = 0
    for h in hint[: L.SCENARIO_RECORDS]:
        r, e, c = req_pos.get(h.request), exp_pos.get(h.expert), con_pos.get(h.contract)
        if r is None or e is None or c is None:
            missing += 1
            continue
        lo, hi = np.searchsorted(p.r, [r, r + 1])  # the table is built request by request
        at = lo + np.flatnonzero((slot_no[lo:hi] == h.slot) & (p.e[lo:hi] == e) & (p.c[lo:hi] == c))
        if at.size == 0 or int(p.s[at[0]]) in wanted:
            missing += 1
            continue
        wanted[int(p.s[at[0]])] = int(at[0])
    return wanted, missing + max(0, len(hint) - L.SCENARIO_RECORDS)


def seat(p: Problem, hint: Sequence[HintLike]) -> Seated:
    """The usable part of the hint, as a feasible partial plan of whole requests."""
    wanted, unusable = find(p, hint)
    reqs = p.sc.requests
    order = sorted(
        wanted.values(),
        key=lambda o: (-int(p.weight[p.r[o]]), reqs[int(p.r[o])].deadline, reqs[int(p.r[o])].id, int(p.s[o])),
    )
    room = Room(p)
    taken: list[int] = []
    pairs: set[tuple[int, int]] = set()
    for o in order:
        args = (int(p.e[o]), int(p.c[o]), int(p.minutes[o]), int(p.cost[o]))
        if (int(p.r[o]), args[0]) in pairs or not room.fits(*args):
            continue
        room.take(*args)
        pairs.add((int(p.r[o]), args[0]))
        taken.append(o)
    # Only whole requests count: a request with a slot left unseated gives its seated slots back.
    per_request = np.bincount(p.slot_request, minlength=p.n_requests)
    got = np.bincount(p.r[np.asarray(taken, dtype=np.int64)], minlength=p.n_requests)
    whole = [o for o in taken if got[p.r[o]] == per_request[p.r[o]]]
    return Seated(whole, wanted, len(hint), unusable + len(wanted) - len(whole))


def outcome(p: Problem, hint: Sequence[HintLike], chosen: list[int]) -> dict[str, int]:
    """Per hinted assignment, what the plan did with it: kept (the same expert and contract),
    moved (the slot filled otherwise) or dropped (the slot left empty). `unusable`: hints the
    engine could not start from (a broken rule, or no room for them)."""
    opts = [p.option(i) for i in chosen]
    at = {(o.request, o.slot): (o.expert, o.contract) for o in [*p.pins, *opts]}
    kept = moved = dropped = 0
    for h in hint[: L.SCENARIO_RECORDS]:
        now = at.get((h.request, h.slot))
        if now == (h.expert, h.contract):
            kept += 1
        elif now is None:
            dropped += 1
        else:
            moved += 1
    return {"given": len(hint), "kept": kept, "moved": moved, "dropped": dropped}
