"""The best few experts for one request, and what each would displace, answered in milliseconds.

`Index(scenario)` is built once per scenario: the options table, and the reference plan every
answer is measured against (the pins, and the greedy plan of everything else: most urgent first,
cheapest option). A question about one request then computes only that request's options (the
same vectorised rules as the table) and tries each against the reference plan's room; the
request's own place in the reference plan is given back first. A request that is not in the
scenario yet (a new urgent one) is answered the same way.

The live matcher keeps the index of its last snapshot, so the proposals board asks on every page
view; `candidates(scenario, request)` builds one for a single answer (the command line).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from services.matcher.solver import model
from services.matcher.solver.greedy import Room, baseline
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.table import ExpertArrays, _slot_rows, build
from shared.scenario import Request, Scenario


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


def score(cost: np.ndarray, travel: np.ndarray, local_rank: np.ndarray) -> np.ndarray:
    return model.W_COST * (cost // 1000) + model.W_TRAVEL * travel + model.W_LOCAL * local_rank.astype(np.int64)


class Index:
    def __init__(self, sc: Scenario) -> None:
        from services.matcher.solver import pin_options

        self.sc = sc
        pins, _ = pin_options(sc)
        self.p = p = build_problem(sc, build(sc), pins, None)
        self.room = Room(p)
        self.plan = baseline(p, self.room)
        exp_pos = {e.id: k for k, e in enumerate(sc.experts)}
        con_pos = {c.id: k for k, c in enumerate(sc.contracts)}
        self.req_pos = {r.id: k for k, r in enumerate(sc.requests)}
        # What each request holds in the reference plan, as (expert, contract, minutes, cost).
        self.held: dict[int, list[tuple[int, int, int, int]]] = {}
        for o in self.plan:
            self.held.setdefault(int(p.r[o]), []).append(_args(p, o))
        for pin in pins:
            self.held.setdefault(self.req_pos[pin.request], []).append(
                (exp_pos[pin.expert], con_pos[pin.contract], pin.minutes, pin.cost)
            )
        excluded: dict[str, list[int]] = {}
        for x in sc.excluded:
            excluded.setdefault(x.request, []).append(exp_pos[x.expert])
        self.excluded = excluded

    def best(self, request: str | Request, *, limit: int = 5) -> list[Candidate]:
        sc, p = self.sc, self.p
        r = request if isinstance(request, Request) else sc.requests[self.req_pos[request]]
        me = self.req_pos.get(r.id, -1)
        room = self.room.copy()
        for args in self.held.get(me, []):
            room.take(*args, sign=-1)
        others = [o for o in self.plan if int(p.r[o]) != me]
        t = p.table
        ex = t.experts
        assert isinstance(ex, ExpertArrays) and t.roads is not None
        rows = _slot_rows(sc, t.roads, ex, r, me, self.excluded)
        if not rows:
            return []
        _, slot, es, cs, on, trav, mins, cost, rank = (np.concatenate(col) for col in zip(*rows, strict=True))
        scores = score(cost, trav, rank)
        out: list[Candidate] = []
        for i in np.lexsort((cs, es, scores))[: limit * 3].tolist():
            args = (int(es[i]), int(cs[i]), int(mins[i]), int(cost[i]))
            fits = room.fits(*args)
            out.append(
                Candidate(
                    expert=sc.experts[args[0]].id,
                    contract=sc.contracts[args[1]].id,
                    slot=int(slot[i]),
                    mode="onsite" if on[i] else "remote",
                    travel_minutes=int(trav[i]),
                    minutes=args[2],
                    cost_vnd=args[3],
                    score=int(scores[i]),
                    fits_now=fits,
                    displaces=[] if fits else self._displaced(args, others, room.copy()),
                )
            )
        out.sort(key=lambda c: (len(c.displaces), c.score, c.expert))
        return out[:limit]

    def _displaced(self, args: tuple[int, int, int, int], plan: list[int], room: Room) -> list[str]:
        """Free the expert and contract by dropping their least urgent assignments until it fits."""
        p = self.p
        e, c = args[0], args[1]
        sharing = sorted(
            (o for o in plan if int(p.e[o]) == e or int(p.c[o]) == c),
            key=lambda o: (int(p.weight[p.r[o]]), p.sc.requests[int(p.r[o])].id),
        )
        freed: list[str] = []
        for o in sharing:
            if room.fits(*args):
                break
            room.take(*_args(p, o), sign=-1)
            freed.append(p.sc.requests[int(p.r[o])].id)
        return freed if room.fits(*args) else [*freed, "(still does not fit)"]


def _args(p: Problem, i: int) -> tuple[int, int, int, int]:
    return int(p.e[i]), int(p.c[i]), int(p.minutes[i]), int(p.cost[i])


def candidates(sc: Scenario, request_id: str, *, limit: int = 5) -> list[Candidate]:
    """One answer without an index kept: builds one (a whole country: about 2 s)."""
    return Index(sc).best(request_id, limit=limit)
