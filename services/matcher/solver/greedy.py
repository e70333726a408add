"""The greedy baseline: most urgent requests first, each taking its cheapest option that still
fits. Always fast; its plan is the model's starting hint and the fallback within any time limit."""

from __future__ import annotations

from collections import defaultdict

from services.matcher.solver.limits import Limits, weight
from services.matcher.solver.options import Option
from shared.scenario import Request, Scenario


def option_key(o: Option) -> tuple[int, int, int, str, str]:
    return (o.cost, o.travel, o.local_rank, o.expert, o.contract)


def by_request(options: list[Option]) -> dict[str, dict[int, list[Option]]]:
    out: dict[str, dict[int, list[Option]]] = defaultdict(lambda: defaultdict(list))
    for o in options:
        out[o.request][o.slot].append(o)
    for slots in out.values():
        for opts in slots.values():
            opts.sort(key=option_key)
    return out


def request_order(requests: list[Request], weights: dict[int, int] | None) -> list[Request]:
    return sorted(requests, key=lambda r: (-weight(r.priority, weights), r.deadline, r.id))


def fill_request(r: Request, slots: dict[int, list[Option]], limits: Limits, fixed: dict[int, Option]) -> list[Option] | None:
    """Options for every slot of `r` (keeping `fixed` ones), distinct experts, or None."""
    chosen: list[Option] = []
    used = {o.expert for o in fixed.values()}
    for k in range(len(r.effective_slots())):
        if k in fixed:
            continue
        pick = next((o for o in slots.get(k, []) if o.expert not in used and limits.blocker(o) is None), None)
        if pick is None:
            for o in chosen:
                limits.take(o, -1)
            return None
        limits.take(pick)
        used.add(pick.expert)
        chosen.append(pick)
    return chosen


def greedy(sc: Scenario, options: list[Option], pins: list[Option], weights: dict[int, int] | None = None,
           limits: Limits | None = None) -> list[Option]:
    """Pins (already applied to `limits` by the caller when given) plus the greedy choices."""
    if limits is None:
        limits = Limits.of(sc)
        for p in pins:
            limits.take(p)
    grouped = by_request(options)
    pinned: dict[str, dict[int, Option]] = defaultdict(dict)
    for p in pins:
        pinned[p.request][p.slot] = p
    plan = list(pins)
    for r in request_order(sc.requests, weights):
        got = fill_request(r, grouped.get(r.id, {}), limits, pinned.get(r.id, {}))
        if got:
            plan.extend(got)
    return plan
