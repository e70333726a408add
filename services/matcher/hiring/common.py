"""What the hiring and training plans share: the engine's solves around the joint model (their
time), the joint model run on a problem from the plan before, and what a decision covers."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from services.matcher.hiring import joint
from services.matcher.solver import Plan, pin_options, time_for
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.table import build
from shared.scenario import Scenario

#: The joint model's default time: this many times the engine's own for the extended problem, at
#: least MIN_JOINT_S. Measured (docs/performance.md, "Hiring plan"): a province proves its optimum
#: in well under a second; 2 000 x 400 with 300 candidates (110 000 options) proves the four
#: restricted sets' optima in about 20 s on a busy machine, 1.5 x 16 s gives them 24 s.
JOINT_FACTOR = 1.5
MIN_JOINT_S = 5.0
#: The engine's own time (`time_for`) is what a background re-plan gets; below a second its
#: phases have no room on a small problem (40 requests: the greedy plan at 0.5 s, proven optimal
#: in 0.05 s with 1 s or more), and a solve proven optimal ends early anyway.
CHECK_MIN_S = 2.0


class Covers(BaseModel):
    requests: list[str]
    weight: int


def check_time(sc: Scenario) -> float:
    """The time limit of the engine's solves here (before, after, the simple rule's)."""
    return max(CHECK_MIN_S, time_for(len(sc.requests), len(build(sc))))


def build_joint_problem(sc: Scenario) -> Problem:
    pins, problem = pin_options(sc)
    if problem:
        raise ValueError(problem)
    return build_problem(sc, build(sc), pins, None)


def decide(
    sc: Scenario,
    before: Plan,
    p: Problem,
    needs: dict[int, list[joint.Requirement]],
    costs: list[int],
    budget_vnd: int,
    time_limit_s: float | None,
    groups: list[list[int]] | None = None,
) -> tuple[joint.Outcome, dict[str, Any]]:
    """The joint model on `p` (the scenario extended with what may be bought), starting from the
    plan before; with the solver's figures for the report."""
    needing = np.zeros(p.n, dtype=bool)
    needing[list(needs)] = True
    pos = {r.id: k for k, r in enumerate(sc.requests)}
    uncovered = np.zeros(len(sc.requests), dtype=bool)
    uncovered[[pos[u.request] for u in before.unassigned]] = True
    limit = (
        time_limit_s if time_limit_s is not None else max(MIN_JOINT_S, JOINT_FACTOR * time_for(len(sc.requests), p.n))
    )
    # Pinned slots are not in the problem: positions() leaves them out.
    start = joint.positions(p, [(a.request, a.slot, a.expert, a.contract) for a in before.assignments])
    model = joint.Joint(p, np.zeros(0, dtype=np.int64), needs, costs, budget_vnd, groups or [])
    outcome = joint.run(model, start, needing, uncovered, limit)
    return outcome, {
        "options": p.n,
        "model_options": int(model.columns.size),
        "time_limit_s": round(limit, 1),
        "joint_status": "optimal" if outcome.optimal else "feasible",
        "joint_bound": outcome.bound,
        "joint_seconds": round(outcome.seconds, 3),
        "joint_rounds": outcome.rounds,
    }
