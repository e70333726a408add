"""Trainees: a community member of the request's commune beside the expert, so that the skill stays
in the commune ("learning while doing").

A request with `trainee` set is covered by its experts exactly as without it; once it is covered,
each of its slots is given a trainee when one fits. The choice is made after the plan, from the
time the plan leaves free, so it never costs coverage (nor cost, travel or fairness).

Who may be a trainee for a slot:
- an expert of kind `community` whose home unit is the request's unit (the skill stays there);
- who has something to learn: below the level asked in at least one of the slot's skills. A member
  may start from zero: the communes' digital teams are new and most of their members hold none of
  the skills yet; asking for a level first would leave most communes without any trainee. Among
  those that fit, the one closest to the level asked goes first (they finish learning soonest);
- not one of the request's experts, not already its trainee on another slot, not excluded from it
  (who declined or was rejected is not asked again);
- with the time free: the slot's hours (no travel: they are at home) are taken from their capacity.
  A trainee is never paid from a contract: their hours count against no contract's hours or money.

Pure: a `Plan` in, the same plan with trainees named out. `validate` checks every rule apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from services.matcher.solver.plan import Assignment, Plan
from shared.scenario import Expert, Request, Scenario, minutes

KIND = "community"


def learns(e: Expert, skills: Mapping[str, int]) -> bool:
    """Has something to learn in this slot: below the level asked in at least one skill."""
    return any(e.skills.get(k, 0) < v for k, v in skills.items())


def may_train(e: Expert, r: Request, skills: Mapping[str, int]) -> bool:
    return e.kind == KIND and e.home_unit == r.unit and learns(e, skills)


def pick(
    r: Request,
    skills: Mapping[str, int],
    need: int,
    candidates: Iterable[Expert],
    free: Mapping[str, int],
    busy: set[str],
) -> Expert | None:
    """The best trainee for a slot among `candidates` (`free`: minutes each has left), or None."""
    fit = [e for e in candidates if e.id not in busy and may_train(e, r, skills) and free.get(e.id, 0) >= need]
    if not fit:
        return None
    return min(
        fit, key=lambda e: (-sum(min(e.skills.get(k, 0), v) for k, v in skills.items()), -free.get(e.id, 0), e.id)
    )


def name(sc: Scenario, plan: Plan) -> Plan:
    """The plan with a trainee on each slot of a covered request that asks for one, where one fits;
    the most urgent requests choose first."""
    requests = {r.id: r for r in sc.requests}
    if not any(requests[a.request].trainee for a in plan.assignments if a.request in requests):
        return plan
    free = {e.id: minutes(e.capacity_hours) - minutes(e.committed_hours) for e in sc.experts}
    for a in plan.assignments:
        free[a.expert] = free.get(a.expert, 0) - a.minutes
    filled = Counter(a.request for a in plan.assignments)
    excluded: dict[str, set[str]] = {}
    for x in sc.excluded:
        excluded.setdefault(x.request, set()).add(x.expert)
    people: dict[str, list[Expert]] = {}
    for e in sc.experts:
        if e.kind == KIND:
            people.setdefault(e.home_unit, []).append(e)
    staff: dict[str, set[str]] = {}
    for a in plan.assignments:
        staff.setdefault(a.request, set()).add(a.expert)
    named: dict[int, Assignment] = {}
    order = sorted(
        range(len(plan.assignments)),
        key=lambda i: (
            -requests[plan.assignments[i].request].priority,
            plan.assignments[i].request,
            plan.assignments[i].slot,
        ),
    )
    for i in order:
        a = plan.assignments[i]
        r = requests[a.request]
        if not r.trainee or filled[r.id] < len(r.effective_slots()):
            continue
        skills = r.effective_slots()[a.slot].skills
        need = minutes(r.effective_slots()[a.slot].hours)
        busy = staff[r.id] | excluded.get(r.id, set())
        chosen = pick(r, skills, need, people.get(r.unit, []), free, busy)
        if chosen is None:
            continue
        free[chosen.id] -= need
        staff[r.id].add(chosen.id)
        named[i] = a.model_copy(update={"trainee": chosen.id, "trainee_minutes": need})
    if not named:
        return plan
    return plan.model_copy(update={"assignments": [named.get(i, a) for i, a in enumerate(plan.assignments)]})
