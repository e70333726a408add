"""Eligibility: every (request slot, expert, contract) that breaks no rule on its own, with the
mode it would be done in, the travel, the work minutes and the cost.

Travel between units: a given `travel_minutes` pair (symmetric) wins; otherwise it is estimated
from both locations as the great-circle distance x 1.6 (mountain roads wind) at 30 km/h, rounded
up to a minute; the same unit is 0. Without a pair or both locations, a unit is out of travel
range (never silently zero).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from shared.scenario import Contract, Expert, Request, Scenario, Slot, Unit, minutes

#: How an option is worked (a request may ask for "either"; an option is one or the other).
WorkMode = Literal["onsite", "remote"]
WINDING = 1.6
KMH = 30.0


@dataclass(frozen=True, slots=True)
class Option:
    request: str
    slot: int
    expert: str
    contract: str
    mode: WorkMode
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


def contract_fits(c: Contract, r: Request, unit: str, start: dt.date) -> bool:
    active = c.start <= r.deadline and c.end >= start
    return active and (c.scope_units is None or unit in c.scope_units)


def choose_mode(r: Request, e: Expert, network: str, travel: int | None) -> tuple[WorkMode, int] | None:
    """The mode a pair would work in, with its one-way travel, or None when it cannot."""
    onsite_ok = e.onsite and travel is not None and travel <= e.max_travel_minutes
    if r.mode == "remote":
        return ("remote", 0) if e.remote else None
    if r.mode == "either" and e.remote and network != "weak":
        return ("remote", 0)
    return ("onsite", travel) if onsite_ok and travel is not None else None


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
    unit = travel.units[r.unit]
    for e in experts:
        if (r.id, e.id) in excluded or not has_skills(e, slot.skills):
            continue
        if r.language and r.language not in e.languages:
            continue
        t = travel.minutes(e.home_unit, r.unit)
        chosen = choose_mode(r, e, unit.network, t)
        if chosen is None:
            continue
        mode, one_way = chosen
        work = minutes(slot.hours) + (2 * one_way if mode == "onsite" else 0)
        rank = 0 if e.home_unit == r.unit else (1 if t is not None and t <= 60 else 2)
        for c in contracts.get(e.id, []):
            if contract_fits(c, r, r.unit, sc.horizon.start):
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
