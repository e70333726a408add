"""From the chosen options to the `Plan` people read: assignments with their explanation, every
uncovered request with its reason, and the objective's figures."""

from __future__ import annotations

from collections import Counter

import numpy as np

from services.matcher.solver.explain import BLOCKERS, explanation, unmatched
from services.matcher.solver.limits import Limits
from services.matcher.solver.options import Option
from services.matcher.solver.plan import Assignment, Objective, Plan, Unassigned
from services.matcher.solver.problem import Problem
from services.matcher.solver.table import why_no_option
from services.matcher.solver.trainee import name as name_trainees
from shared.rules import Reason


def build_plan(p: Problem, chosen: list[int], *, status: str, bound: int, info: dict[str, object]) -> Plan:
    sc, table = p.sc, p.table
    options = [*p.pins, *(p.option(i) for i in chosen)]
    keys, counts = np.unique(table.request.astype(np.int64) * 64 + table.slot, return_counts=True)
    per_slot = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    req_pos = {r.id: k for k, r in enumerate(sc.requests)}
    assignments = [
        Assignment(
            request=o.request,
            slot=o.slot,
            expert=o.expert,
            contract=o.contract,
            mode=o.mode,  # type: ignore[arg-type]
            travel_minutes=o.travel,
            minutes=o.minutes,
            cost_vnd=o.cost,
            explanation=explanation(o, per_slot.get(req_pos[o.request] * 64 + o.slot, 0)),
        )
        for o in sorted(options, key=lambda o: (o.request, o.slot))
    ]
    plan = Plan(
        status=status,
        assignments=assignments,
        unassigned=_gaps(p, options),  # type: ignore[arg-type]
        objective=_objective(p, options, bound),
        solver=info,
    )
    return name_trainees(sc, plan)  # after the plan, from the time it leaves free: never costs coverage


def _gaps(p: Problem, options: list[Option]) -> list[Unassigned]:
    """Why each request is left uncovered: the reason found on its options, all at once in numpy
    (a country has hundreds of thousands of options of uncovered requests)."""
    sc, t = p.sc, p.table
    limits = Limits.of(sc)
    for o in options:
        limits.take(o)
    filled = Counter(o.request for o in options)
    open_requests = [k for k, r in enumerate(sc.requests) if filled[r.id] < len(r.effective_slots())]
    rows = np.flatnonzero(np.isin(t.request, open_requests))
    e, c, m, cost = t.expert[rows], t.contract[rows], t.minutes[rows], t.cost[rows]
    e_left = np.array([limits.expert_minutes[x.id] for x in sc.experts], dtype=np.int64)
    c_left = np.array([limits.contract_minutes[x.id] for x in sc.contracts], dtype=np.int64)
    budget = np.array(
        [limits.contract_budget[x.id] if limits.contract_budget[x.id] is not None else -1 for x in sc.contracts],
        dtype=np.int64,
    )
    slots = np.array([limits.contract_slots[x.id] for x in sc.contracts], dtype=np.int64)
    # 0: fits; else the first limit it would break, in the order of BLOCKERS.
    code = np.select(
        [m > e_left[e], m > c_left[c], (budget[c] >= 0) & (cost > budget[c]), slots[c] < 1], [1, 2, 3, 4], 0
    )
    per_request = np.zeros((len(sc.requests), len(BLOCKERS) + 1), dtype=np.int64)
    np.add.at(per_request, (t.request[rows], code), 1)
    out = []
    for k in open_requests:
        r, counts = sc.requests[k], per_request[k]
        if not counts.any():
            reason = why_no_option(t, r)
        elif counts[0]:
            reason = Reason.OUTCOMPETED
        else:
            reason = BLOCKERS[int(np.argmax(counts[1:]))]
        out.append(Unassigned(request=r.id, code=str(reason), message=unmatched(reason, r.language)))
    return out


def _objective(p: Problem, options: list[Option], bound: int) -> Objective:
    sc = p.sc
    used: Counter[str] = Counter()
    for o in options:
        used[o.expert] += o.minutes
    util = max((100 * used[e.id] / max(1, round(e.capacity_hours * 60)) for e in sc.experts), default=0.0)
    filled = Counter(o.request for o in options)
    covered = [k for k, r in enumerate(sc.requests) if filled[r.id] == len(r.effective_slots())]
    return Objective(
        covered_weight=int(p.weight[covered].sum()) if covered else 0,
        upper_bound=bound,
        cost_vnd=sum(o.cost for o in options),
        travel_minutes=sum(o.travel for o in options),
        max_utilization_pct=round(util, 1),
        units_covered=len({sc.requests[k].unit for k in covered}),
        units_requesting=len({r.unit for r in sc.requests}),
    )
