"""The training plan: which community members (kind `community`) to raise to which level in which
skill, within a budget, to cover the most priority weight; decided with the plan in one model
(`joint.py`) and checked by solving the trained scenario afresh with the engine.

A decision is (member, skill, target level), at (target - current level) x the cost per level,
at most one target per member and skill. The options come from the engine's own rules on the
scenario with every member at the most they could be trained to (in each skill some request
needs, up to `max_level`); an option needs, for each skill of its slot the member lacks at the
slot's level, one of that member's trainings in the skill to that level or above. Pure.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel

from services.matcher.hiring import joint
from services.matcher.hiring.common import Covers, build_joint_problem, check_time, decide
from services.matcher.solver import solve
from services.matcher.solver.limits import weight
from shared.scenario import Scenario

DEFAULT_COST_PER_LEVEL_VND = 2_000_000
#: Community digital teams are trained for the common tasks, not to the expert's level.
DEFAULT_MAX_LEVEL = 4


class Training(BaseModel):
    expert: str
    name: str
    home_unit: str
    skill: str
    from_level: int  # 0: a skill the member does not have yet
    to_level: int
    cost_vnd: int
    covers: Covers  # requests the member serves in that skill above the old level


class TrainingPlan(BaseModel):
    budget_vnd: int
    cost_per_level_vnd: int
    max_level: int
    members: int
    trainings: list[Training]
    cost_vnd: int
    covered_weight_before: int
    covered_weight_after: int  # what the engine finds on the trained scenario, solved afresh
    joint_covered_weight: int
    verified: bool
    gain: int
    experts: list[dict[str, Any]]  # the trained members' records, to replace theirs in the scenario
    solver: dict[str, Any]


def trained(sc: Scenario, levels: dict[tuple[int, str], int]) -> Scenario:
    """The scenario with members' skills raised: {(expert position, skill): level}."""
    experts = list(sc.experts)
    for (i, s), lvl in levels.items():
        e = experts[i]
        experts[i] = e.model_copy(update={"skills": {**e.skills, s: max(lvl, e.skills.get(s, 0))}})
    return sc.model_copy(update={"experts": experts})


def plan_training(
    sc: Scenario,
    budget_vnd: int,
    *,
    cost_per_level_vnd: int = DEFAULT_COST_PER_LEVEL_VND,
    max_level: int = DEFAULT_MAX_LEVEL,
    time_limit_s: float | None = None,
    workers: int = 2,
    seed: int = 0,
) -> TrainingPlan:
    began = time.monotonic()
    before = solve(sc, time_limit_s=check_time(sc), workers=workers, seed=seed)
    members = [i for i, e in enumerate(sc.experts) if e.kind == "community"]
    need: dict[str, int] = defaultdict(int)
    for r in sc.requests:
        for slot in r.effective_slots():
            for s, lvl in slot.skills.items():
                need[s] = max(need[s], lvl)
    decisions: list[tuple[int, str, int]] = []
    groups: list[list[int]] = []
    for i in members:
        for s in sorted(need):
            cur = sc.experts[i].skills.get(s, 0)
            top = min(max_level, need[s])
            if top > cur:
                groups.append(list(range(len(decisions), len(decisions) + top - cur)))
                decisions += [(i, s, lvl) for lvl in range(cur + 1, top + 1)]
    index = {d: k for k, d in enumerate(decisions)}
    costs = [(lvl - sc.experts[i].skills.get(s, 0)) * cost_per_level_vnd for i, s, lvl in decisions]
    p = build_joint_problem(trained(sc, {(i, s): lvl for i, s, lvl in decisions}))
    needs: dict[int, list[joint.Requirement]] = {}
    is_member = np.zeros(len(sc.experts), dtype=bool)
    is_member[members] = True
    for o in np.flatnonzero(is_member[p.e]).tolist():
        e = sc.experts[int(p.e[o])]
        slot = sc.requests[int(p.r[o])].effective_slots()[int(p.slot_index[p.s[o]])]
        reqs = [
            tuple(
                index[(int(p.e[o]), s, lvl)]
                for lvl in range(lvl_needed, max_level + 1)
                if (int(p.e[o]), s, lvl) in index
            )
            for s, lvl_needed in slot.skills.items()
            if e.skills.get(s, 0) < lvl_needed
        ]
        if reqs:
            needs[o] = reqs
    outcome, info = decide(sc, before, p, needs, costs, budget_vnd, time_limit_s, groups)
    chosen = [decisions[k] for k in sorted(outcome.decisions)]
    after_sc = trained(sc, {(i, s): lvl for i, s, lvl in chosen})
    after = solve(after_sc, time_limit_s=check_time(after_sc), workers=workers, seed=seed)
    after_w, before_w = after.objective.covered_weight, before.objective.covered_weight
    touched = sorted({i for i, _, _ in chosen})
    return TrainingPlan(
        budget_vnd=budget_vnd,
        cost_per_level_vnd=cost_per_level_vnd,
        max_level=max_level,
        members=len(members),
        trainings=[_training(sc, after_sc, after, i, s, lvl, cost_per_level_vnd) for i, s, lvl in chosen],
        cost_vnd=sum(costs[k] for k in outcome.decisions),
        covered_weight_before=before_w,
        covered_weight_after=after_w,
        joint_covered_weight=outcome.covered,
        verified=outcome.covered == after_w,
        gain=after_w - before_w,
        experts=[after_sc.experts[i].model_dump(mode="json") for i in touched],
        solver={
            **info,
            "decisions": len(decisions),
            "status_before": before.status,
            "status_after": after.status,
            "seconds": round(time.monotonic() - began, 3),
        },
    )


def _training(sc: Scenario, after_sc: Scenario, after: Any, i: int, s: str, lvl: int, per_level: int) -> Training:
    e = sc.experts[i]
    old = e.skills.get(s, 0)
    slots = {(r.id, k): sl for r in sc.requests for k, sl in enumerate(r.effective_slots())}
    weights = {r.id: weight(r.priority) for r in sc.requests}
    reqs = sorted(
        {a.request for a in after.assignments if a.expert == e.id and slots[(a.request, a.slot)].skills.get(s, 0) > old}
    )
    return Training(
        expert=e.id,
        name=e.name,
        home_unit=e.home_unit,
        skill=s,
        from_level=old,
        to_level=lvl,
        cost_vnd=(lvl - old) * per_level,
        covers=Covers(requests=reqs, weight=sum(weights[r] for r in reqs)),
    )
