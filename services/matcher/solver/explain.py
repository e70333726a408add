"""Why: for each assignment the terms that chose it, for each uncovered request the reason.

Reasons are checked in the order a person would: nobody has the skill, nobody speaks the
language, nobody can work in the requested mode or reach the unit, no contract covers the unit and
dates, the only candidates were declined or rejected, or everyone eligible is out of capacity,
contract hours, budget or concurrent slots; otherwise more urgent requests took them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from services.matcher.solver.limits import Limits
from services.matcher.solver.options import Option, Travel, choose_mode, contract_fits, has_skills
from services.matcher.solver.plan import Unassigned
from shared.scenario import Request, Scenario

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
    cost = f"{o.cost:,} ₫".replace(",", ".")
    summary = f"{o.mode}, {o.minutes / 60:g} h incl. travel, {cost}; {where}; {alternatives} eligible option(s)"
    return {"summary": summary, "mode": o.mode, "cost_vnd": o.cost, "travel_minutes": o.travel,
            "local_rank": o.local_rank, "alternatives": alternatives}


def _static_reason(sc: Scenario, travel: Travel, r: Request) -> str | None:
    slot = max(r.effective_slots(), key=lambda s: len(s.skills))
    skilled = [e for e in sc.experts if has_skills(e, slot.skills)]
    if not skilled:
        return "no_skill"
    if r.language:
        skilled = [e for e in skilled if r.language in e.languages]
        if not skilled:
            return "language"
    network = travel.units[r.unit].network
    reach = [e for e in skilled if choose_mode(r, e, network, travel.minutes(e.home_unit, r.unit))]
    if not reach:
        onsite_possible = r.mode != "remote" and any(e.onsite for e in skilled)
        return "out_of_travel_range" if onsite_possible else "mode_unavailable"
    ids = {e.id for e in reach}
    if not any(c.expert in ids and contract_fits(c, r, r.unit, sc.horizon.start) for c in sc.contracts):
        return "contract_scope_or_dates"
    return "excluded"


def unassigned(sc: Scenario, r: Request, options: list[Option], limits_left: Limits) -> Unassigned:
    if not options:
        code = _static_reason(sc, Travel(sc), r)
    else:
        blockers = Counter(limits_left.blocker(o) for o in options)
        code = "outcompeted" if blockers.get(None) else blockers.most_common(1)[0][0] or "outcompeted"
    return Unassigned(request=r.id, code=code, message=MESSAGES[code].format(language=r.language))
