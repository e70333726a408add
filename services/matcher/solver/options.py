"""Eligibility: every (request slot, expert, contract) that breaks no rule on its own, with the
mode it would be done in, the travel, the work minutes and the cost. The rules are named by their
codes in the catalogue (`shared.rules.Rule`), as the validator names them: `refusal` says which
one keeps a pair from being an option, and the validator reports that same rule when the pair is
forced into a plan.

Travel between units: a given `travel_minutes` pair (symmetric) wins; otherwise it is estimated
from both locations as the great-circle distance x 1.6 (mountain roads wind) at 30 km/h, rounded
up to a minute; the same unit is 0. Without a pair or both locations, a unit is out of travel
range (never silently zero).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from shared.rules import Rule
from shared.scenario import Contract, Expert, Request, Scenario, Slot, Unit, minutes

WINDING = 1.6
KMH = 30.0


@dataclass(frozen=True, slots=True)
class Option:
    request: str
    slot: int
    expert: str
    contract: str
    mode: str
    travel: int
    minutes: int
    cost: int
    local_rank: int  # 0 same unit, 1 within an hour, 2 farther or remote


def haversine_km(a: Unit, b: Unit) -> float:
    assert a.location and b.location
    la1, lo1, la2, lo2 = map(math.radians, (a.location.lat, a.location.lon, b.location.lat, b.location.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


class Travel:
    def __init__(self, sc: Scenario) -> None:
        self.units = {u.id: u for u in sc.units}
        self.given: dict[tuple[str, str], int] = {}
        for t in sc.travel_minutes:
            self.given[(t.from_unit, t.to_unit)] = t.minutes
            self.given[(t.to_unit, t.from_unit)] = t.minutes

    def minutes(self, a: str, b: str) -> int | None:
        if a == b:
            return 0
        if (a, b) in self.given:
            return self.given[(a, b)]
        ua, ub = self.units[a], self.units[b]
        if ua.location is None or ub.location is None:
            return None
        return math.ceil(haversine_km(ua, ub) * WINDING / KMH * 60)


def cost_of(work_minutes: int, rate: int) -> int:
    return -(-work_minutes * rate // 60)


def has_skills(e: Expert, need: dict[str, int]) -> bool:
    return all(e.skills.get(k, 0) >= v for k, v in need.items())


def choose_mode(r: Request, e: Expert, network: str, travel: int | None) -> tuple[str, int] | None:
    """The mode a pair would work in, with its one-way travel, or None when it cannot."""
    onsite_ok = e.onsite and travel is not None and travel <= e.max_travel_minutes
    if r.mode == "remote":
        return ("remote", 0) if e.remote else None
    if r.mode == "either" and e.remote and network != "weak":
        return ("remote", 0)
    return ("onsite", travel) if onsite_ok and travel is not None else None


def forced_mode(r: Request, e: Expert, network: str, travel: int | None) -> tuple[str, int]:
    """The mode a pair works in when staff force it (`overrides`): `choose_mode`'s, or when no mode
    works, remote whenever the expert works remotely: that is what staff can force (the weak
    network, the on-site request), at the task's own cost. Judged on site, a trip beyond the
    expert's range would be charged both ways, and the refusal would name the budget (issue 15: a
    600.000 ₫ task "broke" a cap with 5.000.000 ₫ left)."""
    chosen = choose_mode(r, e, network, travel)
    if chosen is not None:
        return chosen
    return ("remote", 0) if e.remote or not e.onsite else ("onsite", travel or 0)


class Fit:
    """A request slot and an expert, as eligibility reads them (travel and mode computed once,
    only when a check asks)."""

    def __init__(self, r: Request, slot: Slot, e: Expert, travel: Travel, excluded: set[tuple[str, str]]) -> None:
        self.r, self.slot, self.e, self.roads, self.excluded = r, slot, e, travel, excluded

    @cached_property
    def travel(self) -> int | None:
        return self.roads.minutes(self.e.home_unit, self.r.unit)

    @cached_property
    def mode(self) -> tuple[str, int] | None:
        return choose_mode(self.r, self.e, self.roads.units[self.r.unit].network, self.travel)

    @cached_property
    def mode_rule(self) -> Rule | None:
        """The rule no mode keeps: the one the validator names when staff force the pair."""
        if self.mode is not None:
            return None
        forced, _ = forced_mode(self.r, self.e, self.roads.units[self.r.unit].network, self.travel)
        if forced == "remote":
            return Rule.MODE_REMOTE
        return Rule.MODE_ONSITE if self.r.mode == "remote" else Rule.TRAVEL


#: Whether an expert may do a request slot at all, rule by rule, in the order they are checked.
EXPERT_CHECKS: dict[Rule, Callable[[Fit], bool]] = {
    Rule.EXCLUDED: lambda f: (f.r.id, f.e.id) not in f.excluded,
    Rule.SKILL: lambda f: has_skills(f.e, f.slot.skills),
    Rule.LANGUAGE: lambda f: not f.r.language or f.r.language in f.e.languages,
    Rule.MODE_REMOTE: lambda f: f.mode_rule is not Rule.MODE_REMOTE,
    Rule.MODE_ONSITE: lambda f: f.mode_rule is not Rule.MODE_ONSITE,
    Rule.TRAVEL: lambda f: f.mode_rule is not Rule.TRAVEL,
}

#: Whether a contract may pay for an eligible pair (`start`: the horizon's first day).
CONTRACT_CHECKS: dict[Rule, Callable[[Fit, Contract, dt.date], bool]] = {
    Rule.CONTRACT_OWNER: lambda f, c, start: c.expert == f.e.id,
    Rule.CONTRACT_DATES: lambda f, c, start: c.start <= f.r.deadline and c.end >= start,
    Rule.CONTRACT_SCOPE: lambda f, c, start: c.scope_units is None or f.r.unit in c.scope_units,
}

#: The rules eligibility checks, option by option (the others are limits, checked by the solver).
CHECKS = frozenset(EXPERT_CHECKS) | frozenset(CONTRACT_CHECKS)


def expert_refusal(f: Fit) -> Rule | None:
    """The first rule that keeps the expert from the slot, or None."""
    return next((rule for rule, ok in EXPERT_CHECKS.items() if not ok(f)), None)


def contract_refusal(f: Fit, c: Contract, start: dt.date) -> Rule | None:
    """The first rule that keeps the contract from paying for the pair, or None."""
    return next((rule for rule, ok in CONTRACT_CHECKS.items() if not ok(f, c, start)), None)


def refusal(sc: Scenario, r: Request, k: int, e: Expert, c: Contract) -> Rule | None:
    """The first rule that makes (slot `k` of `r`, `e`, `c`) no option, or None when it is one."""
    excluded = {(x.request, x.expert) for x in sc.excluded}
    f = Fit(r, r.effective_slots()[k], e, Travel(sc), excluded)
    return expert_refusal(f) or contract_refusal(f, c, sc.horizon.start)


def options_for_slot(
    sc: Scenario,
    travel: Travel,
    r: Request,
    k: int,
    slot: Slot,
    experts: list[Expert],
    contracts: dict[str, list[Contract]],
    excluded: set[tuple[str, str]],
) -> Iterator[Option]:
    for e in experts:
        f = Fit(r, slot, e, travel, excluded)
        if expert_refusal(f) is not None or f.mode is None:
            continue
        mode, one_way = f.mode
        t = f.travel
        work = minutes(slot.hours) + (2 * one_way if mode == "onsite" else 0)
        rank = 0 if e.home_unit == r.unit else (1 if t is not None and t <= 60 else 2)
        for c in contracts.get(e.id, []):
            if contract_refusal(f, c, sc.horizon.start) is None:
                yield Option(
                    r.id,
                    k,
                    e.id,
                    c.id,
                    mode,
                    one_way if mode == "onsite" else 0,
                    work,
                    cost_of(work, c.hourly_rate_vnd),
                    rank,
                )


def all_options(sc: Scenario) -> list[Option]:
    travel = Travel(sc)
    contracts: dict[str, list[Contract]] = {}
    for c in sc.contracts:
        contracts.setdefault(c.expert, []).append(c)
    excluded = {(x.request, x.expert) for x in sc.excluded}
    out: list[Option] = []
    for r in sc.requests:
        for k, slot in enumerate(r.effective_slots()):
            out.extend(options_for_slot(sc, travel, r, k, slot, sc.experts, contracts, excluded))
    return out
