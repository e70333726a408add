"""The placement's price of scarcity (`services.matcher.scarcity`): demand seen spread over the
experts who could serve it, over the room each has left."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from services.matcher import scarcity
from services.matcher.placement import Reference, Room
from shared.scenario import Request, Scenario

TODAY = dt.date(2026, 12, 1)
UNIT = {"id": "u1", "name": "Xã Thượng Lâm", "province": "Tuyên Quang", "network": "ok"}


def expert(i: int, skills: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "name": f"E{i}",
        "home_unit": "u1",
        "kind": "shared",
        "skills": skills,
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 60,
        "capacity_hours": 40,
    }


def contract(i: int) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "expert": f"e{i}",
        "kind": "sharing",
        "hourly_rate_vnd": 0,
        "hours_cap": 40,
        "max_concurrent": 5,
        "start": str(TODAY - dt.timedelta(days=30)),
        "end": str(TODAY + dt.timedelta(days=90)),
    }


def request(rid: str, skills: dict[str, int], priority: int = 3, hours: float = 4) -> Request:
    return Request.model_validate(
        {
            "id": rid,
            "unit": "u1",
            "title": rid,
            "skills": skills,
            "mode": "remote",
            "hours": hours,
            "priority": priority,
            "deadline": str(TODAY + dt.timedelta(days=5)),
        }
    )


def reference(seen: list[Request], weight: float | None = None) -> Reference:
    sc = Scenario.model_validate(
        {
            "horizon": {"start": str(TODAY), "end": str(TODAY)},
            "units": [UNIT],
            "experts": [
                expert(0, {"info_security": 4, "digital_signature": 3}),
                expert(1, {"digital_signature": 3}),
                expert(2, {"digital_signature": 3}),
            ],
            "contracts": [contract(0), contract(1), contract(2)],
        }
    )
    return Reference.of(sc, np.ones(3, dtype=bool), (0, TODAY), seen, weight)


def room(e: list[int]) -> Room:
    return Room(e, [2400] * 3, [0] * 3, [5] * 3, [False] * 3)


def test_a_slot_only_one_expert_can_serve_puts_its_whole_weight_on_that_expert() -> None:
    ref = reference([request("r1", {"info_security": 3}, priority=3)])
    assert ref.demand is not None
    assert ref.demand.pressure.tolist() == [4 * 4, 0, 0]  # weight 4 x 4 h, all on e0


def test_a_slot_many_can_serve_is_shared_equally_and_a_request_counts_once() -> None:
    r = request("r1", {"digital_signature": 2}, priority=4, hours=6)
    ref = reference([r, r])
    assert ref.demand is not None
    assert ref.demand.pressure.tolist() == [16.0, 16.0, 16.0]  # 8 x 6 h over three


def test_of_two_as_wanted_the_one_with_less_room_left_is_dearer() -> None:
    ref = reference([request("r1", {"digital_signature": 2})])
    es, cs, mins = np.array([0, 1]), np.array([0, 1]), np.array([240, 240])
    priced = scarcity.price(ref.demand, room([600, 2400, 2400]), es, cs, mins)
    assert priced[0] == 4 * priced[1] > 0


def test_the_flexible_expert_is_dearer_than_one_as_free_whom_nothing_else_needs() -> None:
    ref = reference([request("r1", {"info_security": 3}), request("r2", {"digital_signature": 2})])
    es, cs, mins = np.array([0, 1]), np.array([0, 1]), np.array([240, 240])
    priced = scarcity.price(ref.demand, room([2400, 2400, 2400]), es, cs, mins)
    assert priced[0] > priced[1] > 0


def test_without_demand_nothing_is_priced() -> None:
    es = np.array([0, 1])
    assert scarcity.price(None, room([2400] * 3), es, es, np.array([60, 60])).tolist() == [0, 0]


def test_a_contract_whose_budget_pays_little_leaves_little_room() -> None:
    ref = reference([request("r1", {"digital_signature": 2})])
    es, cs = np.array([1, 2]), np.array([1, 2])
    r = Room([2400] * 3, [2400] * 3, [0, 200_000, 0], [5] * 3, [False, True, False])
    ref.ex.c_rate[:] = 100_000  # 200 000 ₫ left on c1: two hours
    assert scarcity.left(ref, r, es, cs).tolist() == [120, 2400]


def test_the_installation_sets_the_prices_weight_and_none_means_the_codes() -> None:
    from services.matcher.settings import MatcherSettings

    seen = [request("r1", {"digital_signature": 2})]
    es, cs, mins = np.array([0, 1]), np.array([0, 1]), np.array([240, 240])
    left = room([600, 2400, 2400])
    at = {w: scarcity.price(reference(seen, w).demand, left, es, cs, mins) for w in (None, 600.0, 0.0)}
    assert scarcity.W_SCARCE == 300.0 and at[None].tolist() == (at[600.0] // 2).tolist() and at[None][0] > 0
    assert at[0.0].tolist() == [0, 0]
    assert MatcherSettings().scarcity_weight is None
    assert MatcherSettings(scarcity_weight=3000).scarcity_weight == 3000.0
