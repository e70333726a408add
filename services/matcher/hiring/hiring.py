"""The hiring plan: which contracts of a menu to sign, within a budget, to cover the most priority
weight, decided together with the plan that would use them (`joint.py`), then checked by solving
the merged scenario afresh with the engine; and the simple rule it is compared with.

Pure: a scenario and a menu in, a `HiringPlan` out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel

from services.matcher.hiring import joint
from services.matcher.hiring.common import Covers, build_joint_problem, check_time, decide
from services.matcher.hiring.menu import DEFAULT_MENU, Candidate, contract_id, default_menu, merge
from services.matcher.solver import Plan, solve
from services.matcher.solver.limits import weight
from shared.scenario import Scenario


class Hire(BaseModel):
    candidate: str
    name: str
    expert: str
    contract: str
    where: str
    skills: dict[str, int]
    cost_vnd: int
    covers: Covers


class RuleResult(BaseModel):
    rule: str
    hires: list[str]
    cost_vnd: int
    covered_weight_after: int


class HiringPlan(BaseModel):
    budget_vnd: int
    menu: str  # "file" or "default"
    candidates: int
    hires: list[Hire]
    cost_vnd: int
    covered_weight_before: int
    covered_weight_after: int  # what the engine finds on the merged scenario, solved afresh
    joint_covered_weight: int  # what the joint model found for the same hires
    verified: bool  # the two agree
    gain: int
    experts: list[dict[str, Any]]  # ready to merge into the scenario's arrays
    contracts: list[dict[str, Any]]
    simple_rule: RuleResult | None = None
    solver: dict[str, Any]


def covers(plan: Plan, contract: str, weights: dict[str, int]) -> Covers:
    """The requests the plan gives (a slot of) to this contract, and their weight."""
    reqs = sorted({a.request for a in plan.assignments if a.contract == contract})
    return Covers(requests=reqs, weight=sum(weights[r] for r in reqs))


def plan_hiring(
    sc: Scenario,
    budget_vnd: int,
    menu: list[Candidate] | None = None,
    *,
    time_limit_s: float | None = None,
    workers: int = 2,
    seed: int = 0,
    compare: bool = True,
    menu_size: int = DEFAULT_MENU,
) -> HiringPlan:
    """`menu`: None for the default menu of at most `menu_size` candidates. `time_limit_s`: for the
    joint model (None: `common.JOINT_FACTOR` x the engine's own time for the extended problem);
    the engine's solves get `check_time`."""
    began = time.monotonic()
    before = solve(sc, time_limit_s=check_time(sc), workers=workers, seed=seed)
    source = "file" if menu is not None else "default"
    menu = menu if menu is not None else default_menu(sc, before, menu_size)
    p = build_joint_problem(merge(sc, menu))
    first, n = len(sc.contracts), len(sc.experts)
    # A candidate's option needs the candidate hired (decision k is menu[k]).
    needs: dict[int, list[joint.Requirement]] = {
        o: [(int(p.c[o]) - first,)] for o in np.flatnonzero(p.c >= first).tolist()
    }
    outcome, info = decide(sc, before, p, needs, [c.cost_vnd for c in menu], budget_vnd, time_limit_s)
    chosen = [menu[k] for k in sorted(outcome.decisions)]
    merged = merge(sc, chosen)
    after = solve(merged, time_limit_s=check_time(merged), workers=workers, seed=seed)
    weights = {r.id: weight(r.priority) for r in sc.requests}
    hires = [
        Hire(
            candidate=c.id,
            name=e.name,
            expert=e.id,
            contract=contract_id(c),
            where=c.where,
            skills=c.skills,
            cost_vnd=c.cost_vnd,
            covers=covers(after, contract_id(c), weights),
        )
        for c, e in zip(chosen, merged.experts[n:], strict=True)
    ]
    info.update(status_before=before.status, status_after=after.status, seconds=round(time.monotonic() - began, 3))
    rule = simple_rule(sc, menu, before, budget_vnd, workers, seed) if compare else None
    info.update(rule_seconds=round(time.monotonic() - began - info["seconds"], 3))
    after_w, before_w = after.objective.covered_weight, before.objective.covered_weight
    return HiringPlan(
        budget_vnd=budget_vnd,
        menu=source,
        candidates=len(menu),
        hires=hires,
        cost_vnd=sum(c.cost_vnd for c in chosen),
        covered_weight_before=before_w,
        covered_weight_after=after_w,
        joint_covered_weight=outcome.covered,
        verified=outcome.covered == after_w,
        gain=after_w - before_w,
        experts=[e.model_dump(mode="json") for e in merged.experts[n:]],
        contracts=[k.model_dump(mode="json") for k in merged.contracts[first:]],
        simple_rule=rule,
        solver=info,
    )


def simple_rule(
    sc: Scenario, menu: list[Candidate], before: Plan, budget_vnd: int, workers: int, seed: int
) -> RuleResult:
    """The rule of thumb: while money is left, take the skill with the most uncovered weight and
    hire, from the menu, for the commune where most of that skill's uncovered weight is (a
    candidate based there with the skill; else a remote-only one with it; else any with it, the
    cheapest first); the hire is taken to absorb its hours of that skill's uncovered demand (its
    weight per hour times the hours), and the next skill is chosen on what is left. The set is
    then judged by the engine, like the plan."""
    uncovered = {u.request for u in before.unassigned}
    left_w: dict[str, float] = defaultdict(float)
    left_h: dict[str, float] = defaultdict(float)
    where: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in sc.requests:
        if r.id in uncovered:
            for slot in r.effective_slots():
                for s in slot.skills:
                    left_w[s] += weight(r.priority)
                    left_h[s] += slot.hours
                    where[s][r.unit] += weight(r.priority)
    money, taken = budget_vnd, []
    pool = list(menu)
    while pool and left_w:
        s = max(left_w, key=lambda k: (left_w[k], k))
        place = max(where[s], key=lambda u: (where[s][u], u))
        fits = [c for c in pool if s in c.skills and c.cost_vnd <= money]
        pick = (
            min([c for c in fits if c.home_unit == place], key=lambda c: c.cost_vnd, default=None)
            or min([c for c in fits if c.home_unit is None], key=lambda c: c.cost_vnd, default=None)
            or min(fits, key=lambda c: c.cost_vnd, default=None)
        )
        if pick is None:
            del left_w[s]  # nobody affordable has it: the next skill
            continue
        taken.append(pick)
        pool.remove(pick)
        money -= pick.cost_vnd
        share = min(1.0, pick.hours_cap / max(left_h[s], 1e-9))
        left_w[s] -= share * left_w[s]
        left_h[s] -= share * left_h[s]
        for u in where[s]:
            where[s][u] *= 1 - share
        if left_w[s] < 1e-6:
            del left_w[s]
    plan = solve(merge(sc, taken), time_limit_s=check_time(sc), workers=workers, seed=seed) if taken else before
    return RuleResult(
        rule="most uncovered skill, where most of it is",
        hires=[c.id for c in taken],
        cost_vnd=budget_vnd - money,
        covered_weight_after=plan.objective.covered_weight,
    )
