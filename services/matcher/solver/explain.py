"""Why: for each assignment the terms that chose it, for each uncovered request the reason.

Reasons are checked in the order a person would: nobody has the skill, nobody speaks the
language, nobody can work in the requested mode or reach the unit, no contract covers the unit and
dates, the only candidates were declined or rejected, or everyone eligible is out of capacity,
contract hours, budget or concurrent slots; otherwise more urgent requests took them.
"""

from __future__ import annotations

from typing import Any

from services.matcher.solver.options import Option
from shared import rules
from shared.rules import Reason

#: The limits an option can hit once others are planned, in the order they are checked.
BLOCKERS = rules.BLOCKERS

#: The English sentence of each unmatched reason (`{language}`: the language the request asks for),
#: from the rules' catalogue (`shared.rules.REASONS`).
MESSAGES: dict[str, str] = {str(code): spec.en for code, spec in rules.REASONS.items()}


def unmatched(reason: Reason | str, language: str | None) -> str:
    """The sentence a request's unmatched reason is written with (`RequestUnmatched.reason`)."""
    return rules.reason_text(reason, "en", language)


def explanation(o: Option, alternatives: int) -> dict[str, Any]:
    where = {0: "same commune", 1: "within an hour", 2: "remote or farther"}[o.local_rank]
    cost = f"{o.cost:,} ₫".replace(",", ".")
    summary = f"{o.mode}, {o.minutes / 60:g} h incl. travel, {cost}; {where}; {alternatives} eligible option(s)"
    return {
        "summary": summary,
        "mode": o.mode,
        "cost_vnd": o.cost,
        "travel_minutes": o.travel,
        "local_rank": o.local_rank,
        "alternatives": alternatives,
    }
