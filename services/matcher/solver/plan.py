"""What the engine answers: a plan with its assignments, what stays unassigned and why, and the
objective with a proven bound. Plain pydantic models, safe to print, publish or compare."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Assignment(Frozen):
    request: str
    slot: int = 0
    expert: str
    contract: str
    mode: Literal["onsite", "remote"]
    travel_minutes: int
    minutes: int
    cost_vnd: int
    explanation: dict[str, Any] = Field(default_factory=dict)
    trainee: str | None = Field(
        default=None,
        description="a community member of the request's commune learning beside the expert (`trainee.py`)",
    )
    trainee_minutes: int = Field(
        default=0,
        description="the trainee's time: the slot's hours, no travel; against their capacity, never a contract's money",
    )


class Unassigned(Frozen):
    request: str
    code: str = Field(
        description="no_skill, language, mode_unavailable, out_of_travel_range, "
        "contract_scope_or_dates, excluded, expert_capacity, contract_hours, "
        "contract_budget, contract_concurrency, outcompeted"
    )
    message: str


class Objective(Frozen):
    covered_weight: int = 0
    upper_bound: int = 0
    cost_vnd: int = 0
    travel_minutes: int = 0
    max_utilization_pct: float = 0.0
    units_covered: int = 0
    units_requesting: int = 0


class Plan(Frozen):
    status: Literal["optimal", "feasible", "infeasible"]
    reason: str = ""
    assignments: list[Assignment] = Field(default_factory=list)
    unassigned: list[Unassigned] = Field(default_factory=list)
    objective: Objective = Field(default_factory=Objective)
    solver: dict[str, Any] = Field(default_factory=dict, description="engine, seconds, phases")
