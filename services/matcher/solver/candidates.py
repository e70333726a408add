"""The best few experts for one request, answered in well under a second: no full solve, but the
greedy plan of every other request, so each candidate says what it would displace."""

from __future__ import annotations

from pydantic import BaseModel

from services.matcher.solver import model
from services.matcher.solver.greedy import greedy
from services.matcher.solver.limits import Limits, weight
from services.matcher.solver.options import Option, all_options
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


def score(o: Option) -> int:
    return model.W_COST * (o.cost // 1000) + model.W_TRAVEL * o.travel + model.W_LOCAL * o.local_rank


def _displaced(o: Option, plan: list[Option], limits: Limits, priority: dict[str, int]) -> list[str]:
    """Free the expert and contract by dropping their least urgent assignments until `o` fits."""
    freed: list[str] = []
    sharing = sorted((p for p in plan if p.expert == o.expert or p.contract == o.contract),
                     key=lambda p: (weight(priority[p.request]), p.request))
    for p in sharing:
        if limits.blocker(o) is None:
            break
        limits.take(p, -1)
        freed.append(p.request)
    return freed if limits.blocker(o) is None else [*freed, "(still does not fit)"]


def candidates(sc: Scenario, request_id: str, *, limit: int = 5) -> list[Candidate]:
    options = all_options(sc)
    mine = [o for o in options if o.request == request_id]
    others = [o for o in options if o.request != request_id]
    rest = sc.model_copy(update={"requests": [r for r in sc.requests if r.id != request_id],
                                 "pinned": [p for p in sc.pinned if p.request != request_id]})
    plan = greedy(rest, others, [], None)
    priority = {r.id: r.priority for r in sc.requests}
    out: list[Candidate] = []
    for o in sorted(mine, key=lambda o: (score(o), o.expert, o.contract))[: max(limit * 3, limit)]:
        limits = Limits.of(sc)
        for p in plan:
            limits.take(p)
        fits = limits.blocker(o) is None
        out.append(Candidate(expert=o.expert, contract=o.contract, slot=o.slot, mode=o.mode,
                             travel_minutes=o.travel, minutes=o.minutes, cost_vnd=o.cost, score=score(o),
                             fits_now=fits, displaces=[] if fits else _displaced(o, plan, limits, priority)))
    out.sort(key=lambda c: (len(c.displaces), c.score, c.expert))
    return out[:limit]
