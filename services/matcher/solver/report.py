"""From the chosen options to the `Plan` people read: assignments with their explanation, every
uncovered request with its reason, and the objective's figures."""

from __future__ import annotations

from collections import Counter
from functools import partial

import numpy as np

from services.matcher.solver.explain import explanation, unassigned
from services.matcher.solver.limits import Limits
from services.matcher.solver.options import Option
from services.matcher.solver.plan import Assignment, Objective, Plan
from services.matcher.solver.problem import Problem
from services.matcher.solver.table import why_no_option


def build_plan(p: Problem, chosen: list[int], *, status: str, bound: int, info: dict[str, object]) -> Plan:
    sc, table = p.sc, p.table
    options = [*p.pins, *(p.option(i) for i in chosen)]
    keys, counts = np.unique(table.request.astype(np.int64) * 64 + table.slot, return_counts=True)
    per_slot = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    req_pos = {r.id: k for k, r in enumerate(sc.requests)}
    assignments = [
        Assignment(request=o.request, slot=o.slot, expert=o.expert, contract=o.contract, mode=o.mode,  # type: ignore[arg-type]
                   travel_minutes=o.travel, minutes=o.minutes, cost_vnd=o.cost,
                   explanation=explanation(o, per_slot.get(req_pos[o.request] * 64 + o.slot, 0)))
        for o in sorted(options, key=lambda o: (o.request, o.slot))
    ]
    return Plan(status=status, assignments=assignments, unassigned=_gaps(p, options),  # type: ignore[arg-type]
                objective=_objective(p, options, bound), solver=info)


def _gaps(p: Problem, options: list[Option]) -> list:  # type: ignore[type-arg]
    sc, table = p.sc, p.table
    limits = Limits.of(sc)
    for o in options:
        limits.take(o)
    filled = Counter(o.request for o in options)
    order = np.argsort(table.request, kind="stable")
    starts = np.searchsorted(table.request[order], np.arange(len(sc.requests) + 1))
    return [unassigned(r, table.options(order[starts[k]:starts[k + 1]]), limits, partial(why_no_option, table))
            for k, r in enumerate(sc.requests) if filled[r.id] < len(r.effective_slots())]


def _objective(p: Problem, options: list[Option], bound: int) -> Objective:
    sc = p.sc
    used: Counter[str] = Counter()
    for o in options:
        used[o.expert] += o.minutes
    util = max((100 * used[e.id] / max(1, round(e.capacity_hours * 60)) for e in sc.experts), default=0.0)
    filled = Counter(o.request for o in options)
    covered = [k for k, r in enumerate(sc.requests) if filled[r.id] == len(r.effective_slots())]
    return Objective(covered_weight=int(p.weight[covered].sum()) if covered else 0, upper_bound=bound,
                     cost_vnd=sum(o.cost for o in options), travel_minutes=sum(o.travel for o in options),
                     max_utilization_pct=round(util, 1), units_covered=len({sc.requests[k].unit for k in covered}),
                     units_requesting=len({r.unit for r in sc.requests}))
