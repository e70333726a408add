"""Why: for each assignment the terms that chose it, for each uncovered request the reason.

Reasons are checked in the order a person would: nobody has the skill, nobody speaks the
language, nobody can work in the requested mode or reach the unit, no contract covers the unit and
dates, the only candidates were declined or rejected, or everyone eligible is out of capacity,
contract hours, budget or concurrent slots; otherwise more urgent requests took them.
"""

from __future__ import annotations

from typing import Any

from services.matcher.solver.options import Option
from shared.formatting import decimal_hours, money

#: The limits an option can hit once others are planned, in the order they are checked.
BLOCKERS = ("expert_capacity", "contract_hours", "contract_budget", "contract_concurrency")

MESSAGES = {
    "no_skill": "no expert has the required skills at the required level",
    "language": "no expert with the skills speaks {language}",
    "mode_unavailable": "no expert with the skills can work in the requested mode",
    "out_of_travel_range": "experts with the skills are out of travel range and cannot work remotely here",
    "contract_scope_or_dates": "no active contract of a suitable expert covers this unit before the deadline",
    "excluded": "every suitable expert has declined or been rejected for this request",
    "expert_capacity": "all eligible experts are at capacity",
    "contract_hours": "the hours of every eligible contract are used up",
    "contract_budget": "the budget of every eligible contract is used up",
    "contract_concurrency": "every eligible contract has its maximum of concurrent assignments",
    "outcompeted": "more urgent requests took the eligible experts",
}


def explanation(o: Option, alternatives: int) -> dict[str, Any]:
    where = {0: "same commune", 1: "within an hour", 2: "remote or farther"}[o.local_rank]
    cost = money(o.cost)
    summary = f"{o.mode}, {decimal_hours(o.minutes)} incl. travel, {cost}; {where}; {alternatives} eligible option(s)"
    return {
        "summary": summary,
        "mode": o.mode,
        "cost_vnd": o.cost,
        "travel_minutes": o.travel,
        "local_rank": o.local_rank,
        "alternatives": alternatives,
    }
