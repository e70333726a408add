"""What one more hour is worth (`services.matcher.solver.value`), checked by solving again.

The check, on small cases: the predicted value of one more hour (the LP's marginal value)
against the LP solved again with that hour added: an existing expert given one more hour of
capacity, or a hypothetical expert. The engine's LP leaves out an option longer than its
expert's hours (`problem.fits_alone`: it is in no plan), so a hypothetical expert is given the
hours of the slot it is checked on, and the gain compared is hours x the value of an hour.
Within the LP's meaning the prediction is exact while the added hours change no binding limit
(the hand-made cases), and never below the re-solved gain whatever binds (weak duality: the
generated provinces check that). The integer engine gains in whole requests
(`test_enough_hours_cover_the_request_in_the_engine`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scenarios.generate import generate
from services.matcher.solver import solve
from services.matcher.solver.limits import weight
from services.matcher.solver.options import all_options
from services.matcher.solver.value import DELTA, hour_values, lp_value
from shared.scenario import Scenario

DAY = dt.date(2026, 12, 1)


def unit(uid: str) -> dict[str, Any]:
    return {"id": uid, "name": f"Xã {uid}", "province": "Tuyên Quang", "network": "ok"}


def expert(eid: str, home: str, skills: dict[str, int], hours: float) -> dict[str, Any]:
    return {
        "id": eid,
        "name": eid,
        "home_unit": home,
        "kind": "contract",
        "skills": skills,
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 0,
        "capacity_hours": hours,
    }


def contract(cid: str, eid: str, hours: float = 1000) -> dict[str, Any]:
    return {
        "id": cid,
        "expert": eid,
        "kind": "project",
        "hourly_rate_vnd": 100_000,
        "hours_cap": hours,
        "max_concurrent": 100,
        "start": str(DAY),
        "end": str(DAY + dt.timedelta(days=60)),
    }


def request(rid: str, at: str, skills: dict[str, int], hours: float, priority: int) -> dict[str, Any]:
    return {
        "id": rid,
        "unit": at,
        "title": rid,
        "skills": skills,
        "mode": "onsite",
        "hours": hours,
        "priority": priority,
        "deadline": str(DAY + dt.timedelta(days=10)),
    }


Rows = list[dict[str, Any]]


def scenario(experts: Rows, contracts: Rows, requests: Rows) -> Scenario:
    return Scenario.model_validate(
        {
            "horizon": {"start": str(DAY), "end": str(DAY + dt.timedelta(days=30))},
            "units": [unit("w1"), unit("w2")],
            "experts": experts,
            "contracts": contracts,
            "requests": requests,
        }
    )


def with_new_expert(sc: Scenario, at: str, skills: dict[str, int], hours: float) -> Scenario:
    data = sc.model_dump(mode="json", by_alias=True)
    data["experts"].append(expert("new", at, skills, hours))
    data["contracts"].append(contract("c-new", "new"))
    return Scenario.model_validate(data)


def with_more_hours(sc: Scenario, eid: str, hours: float) -> Scenario:
    data = sc.model_dump(mode="json", by_alias=True)
    for e in data["experts"]:
        if e["id"] == eid:
            e["capacity_hours"] += hours
    return Scenario.model_validate(data)


def test_nobody_can_serve_it_one_hour_is_worth_its_share_of_the_weight() -> None:
    # Information security level 3 in w1, 4 hours, priority 3 (weight 4): nobody has the skill.
    sc = scenario(
        [expert("e1", "w1", {"office_it": 2}, 40)],
        [contract("c1", "e1")],
        [request("r1", "w1", {"info_security": 3}, 4, 3)],
    )
    v = hour_values(sc)
    assert v.slot_hour[("r1", 0)] == pytest.approx(weight(3) / 4, abs=1e-3)
    gained = lp_value(with_new_expert(sc, "w1", {"info_security": 3}, 4)) - lp_value(sc)
    assert gained == pytest.approx(4 * v.slot_hour[("r1", 0)], abs=1e-3)


def test_enough_hours_cover_the_request_in_the_engine() -> None:
    sc = scenario(
        [expert("e1", "w1", {"office_it": 2}, 40)],
        [contract("c1", "e1")],
        [request("r1", "w1", {"info_security": 3}, 4, 3)],
    )
    rate = hour_values(sc).slot_hour[("r1", 0)]
    before = solve(sc, time_limit_s=5).objective.covered_weight
    after = solve(with_new_expert(sc, "w1", {"info_security": 3}, 4), time_limit_s=5).objective.covered_weight
    assert after - before == pytest.approx(4 * rate, abs=1e-3)
    one_hour = solve(with_new_expert(sc, "w1", {"info_security": 3}, 1), time_limit_s=5).objective.covered_weight
    assert one_hour == before  # a plan covers whole requests only


def test_a_busy_experts_hour_is_worth_what_it_would_cover_next() -> None:
    # e1 (6 h) can do both; r1 (priority 5, 4 h) is worth 16/4 = 4 an hour, r2 (priority 2, 4 h)
    # 2/4 = 0.5 an hour. e1 takes r1 whole and half of r2 in the LP: its next hour goes to r2.
    sc = scenario(
        [expert("e1", "w1", {"office_it": 2}, 6)],
        [contract("c1", "e1")],
        [request("r1", "w1", {"office_it": 1}, 4, 5), request("r2", "w1", {"office_it": 1}, 4, 2)],
    )
    v = hour_values(sc)
    assert v.expert_hour["e1"] == pytest.approx(weight(2) / 4, abs=1e-3)
    gained = lp_value(with_more_hours(sc, "e1", 1)) - lp_value(sc)
    assert gained == pytest.approx(v.expert_hour["e1"], abs=1e-3)
    # A new office-IT expert's hour in w1 is worth the same: the next request it would serve is r2.
    assert v.slot_hour[("r2", 0)] == pytest.approx(weight(2) / 4, abs=1e-3)
    assert v.slot_hour[("r1", 0)] == pytest.approx(weight(2) / 4, abs=1e-3)  # r1's hour frees e1 for r2
    # A new expert of 4 hours takes r2's other half (2 h at 0.5) and frees 2 h of e1 (none left to do).
    gained = lp_value(with_new_expert(sc, "w1", {"office_it": 1}, 4)) - lp_value(sc)
    assert gained == pytest.approx(2 * v.slot_hour[("r2", 0)], abs=1e-3)
    assert gained <= 4 * v.slot_hour[("r2", 0)] + 1e-3


def test_covered_demand_with_room_to_spare_is_worth_nothing_more() -> None:
    sc = scenario(
        [expert("e1", "w1", {"office_it": 2}, 40)],
        [contract("c1", "e1")],
        [request("r1", "w1", {"office_it": 1}, 4, 3)],
    )
    v = hour_values(sc)
    assert v.slot_hour[("r1", 0)] == 0.0
    assert v.expert_hour["e1"] == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_prediction_never_falls_short_of_a_re_solve(seed: int) -> None:
    """On generated provinces, whatever binds: a new expert of one hour never gains the LP more
    than its hours x the best predicted hour among the slots it can do (weak duality)."""
    sc = generate(30, 6, seed=seed, provinces=[8])
    v = hour_values(sc)
    base = lp_value(sc)
    tight = 0
    for r in [x for x in sc.requests if not x.slots][:6]:
        data = sc.model_dump(mode="json", by_alias=True)
        speaks = {"languages": [r.language or "vi", "vi"]}
        data["experts"].append(expert("new", r.unit, dict(r.skills), r.hours) | speaks)
        data["contracts"].append(contract("c-new", "new") | {"start": str(sc.horizon.start)})
        bigger = Scenario.model_validate(data)
        can = {(o.request, o.slot) for o in all_options(bigger) if o.expert == "new"}
        assert (r.id, 0) in can
        predicted = r.hours * max(v.slot_hour[k] for k in can)
        gained = lp_value(bigger) - base
        # The duals are those of the LP with the phantom fill (DELTA a slot): against the LP
        # without it, weak duality holds up to DELTA x the slots' rates.
        assert gained <= predicted + DELTA * sum(v.slot_rate.values()) + 1e-6
        tight += abs(gained - predicted) < 1e-3
    assert tight  # and the prediction is exact for some of them
