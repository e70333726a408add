"""The best few experts for one request, answered in well under a second: no full solve, but the
greedy plan of every other request, so each candidate says what it would displace."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from services.matcher.solver import model
from services.matcher.solver.greedy import Room, baseline
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.table import build
from shared.scenario import Scenario


class Candidate(BaseModel):
    expert: str
    contract: str
    slot: int
    mode: str
    travel_minutes: int
    minutes: int
    cost_vnd: int
    score: int  # lower is better: the model's secondary terms for this option
    fits_now: bool
    displaces: list[str]  # requests (least urgent first) that would lose their expert


def score(p: Problem, i: int) -> int:
    t, row = p.table, int(p.idx[i])
    return int(model.W_COST * (p.cost[i] // 1000) + model.W_TRAVEL * t.travel[row] + model.W_LOCAL * t.local_rank[row])


def _args(p: Problem, i: int) -> tuple[int, int, int, int]:
    return int(p.e[i]), int(p.c[i]), int(p.minutes[i]), int(p.cost[i])


def _displaced(p: Problem, i: int, plan: list[int], room: Room) -> list[str]:
    """Free the expert and contract by dropping their least urgent assignments until `i` fits."""
    e, c = int(p.e[i]), int(p.c[i])
    sharing = sorted((o for o in plan if int(p.e[o]) == e or int(p.c[o]) == c),
                     key=lambda o: (int(p.weight[p.r[o]]), p.sc.requests[int(p.r[o])].id))
    freed: list[str] = []
    for o in sharing:
        if room.fits(*_args(p, i)):
            break
        room.take(*_args(p, o), sign=-1)
        freed.append(p.sc.requests[int(p.r[o])].id)
    return freed if room.fits(*_args(p, i)) else [*freed, "(still does not fit)"]


def candidates(sc: Scenario, request_id: str, *, limit: int = 5) -> list[Candidate]:
    from services.matcher.solver import pin_options

    pins, _ = pin_options(sc)
    p = build_problem(sc, build(sc), pins, None)
    target = next(k for k, r in enumerate(sc.requests) if r.id == request_id)
    room = Room(p)
    plan = baseline(p, room, without=target)
    mine = sorted(np.flatnonzero(p.r == target).tolist(), key=lambda i: (score(p, i), int(p.e[i]), int(p.c[i])))
    out: list[Candidate] = []
    for i in mine[: limit * 3]:
        fits = room.fits(*_args(p, i))
        trial = Room(p)
        for o in plan:
            trial.take(*_args(p, o))
        o = p.option(i)
        out.append(Candidate(expert=o.expert, contract=o.contract, slot=o.slot, mode=o.mode,
                             travel_minutes=o.travel, minutes=o.minutes, cost_vnd=o.cost, score=score(p, i),
                             fits_now=fits, displaces=[] if fits else _displaced(p, i, plan, trial)))
    out.sort(key=lambda c: (len(c.displaces), c.score, c.expert))
    return out[:limit]
