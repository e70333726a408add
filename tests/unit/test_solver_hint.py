"""Continuing from a plan (`solve(..., hint=...)`): the engine starts from the proposals that still
fit, moves one only when coverage needs it, and says what it did with each."""

from __future__ import annotations

from typing import Any

import pytest

import services.matcher.solver as engine
from scenarios.generate import generate
from services.matcher.solver import Hint, Plan, time_for
from services.matcher.solver.validate import validate
from shared.scenario import Pin, Scenario


def tiny(experts: list[dict[str, Any]], requests: list[dict[str, Any]]) -> Scenario:
    """Remote work in one commune: no travel, each expert with one contract of its own."""
    return Scenario.model_validate(
        {
            "horizon": {"start": "2026-12-01", "end": "2026-12-14"},
            "units": [
                {"id": "u1", "name": "U1", "province": "P", "network": "ok", "location": {"lat": 22, "lon": 105}}
            ],
            "experts": [
                {
                    "id": e["id"],
                    "name": e["id"],
                    "home_unit": "u1",
                    "kind": "shared",
                    "skills": e["skills"],
                    "remote": True,
                    "onsite": False,
                    "max_travel_minutes": 60,
                    "capacity_hours": e["hours"],
                }
                for e in experts
            ],
            "contracts": [
                {
                    "id": f"c-{e['id']}",
                    "expert": e["id"],
                    "kind": "project" if e.get("rate") else "sharing",
                    "hourly_rate_vnd": e.get("rate", 0),
                    "hours_cap": 100,
                    "max_concurrent": 10,
                    "start": "2026-11-01",
                    "end": "2027-06-30",
                }
                for e in experts
            ],
            "requests": [
                {
                    "id": r["id"],
                    "unit": "u1",
                    "title": r["id"],
                    "skills": r["skills"],
                    "mode": "remote",
                    "hours": r["hours"],
                    "priority": r["priority"],
                    "deadline": "2026-12-10",
                }
                for r in requests
            ],
        }
    )


def pairs(plan: Plan) -> set[tuple[str, int, str, str]]:
    return {(a.request, a.slot, a.expert, a.contract) for a in plan.assignments}


def as_hint(plan: Plan) -> list[Hint]:
    return [Hint(a.request, a.slot, a.expert, a.contract) for a in plan.assignments]


def checked(sc: Scenario, **kw: Any) -> Plan:
    plan = engine.solve(sc, **{"time_limit_s": 3.0, **kw})
    assert validate(sc, plan) == [], validate(sc, plan)
    return plan


def test_an_optimal_hint_comes_back_unchanged_even_when_another_expert_is_cheaper() -> None:
    sc = tiny(
        [
            {"id": "pricey", "skills": {"office_it": 3}, "hours": 10, "rate": 300_000},
            {"id": "free", "skills": {"office_it": 3}, "hours": 10},
        ],
        [{"id": "r1", "skills": {"office_it": 2}, "hours": 4, "priority": 3}],
    )
    assert pairs(checked(sc)) == {("r1", 0, "free", "c-free")}  # left alone, the cheaper one
    plan = checked(sc, hint=[Hint("r1", 0, "pricey", "c-pricey")])
    assert pairs(plan) == {("r1", 0, "pricey", "c-pricey")}
    assert plan.solver["hint"] == {"given": 1, "kept": 1, "moved": 0, "dropped": 0}


@pytest.mark.parametrize("large_path", [False, True])
def test_a_generated_plan_given_back_as_a_hint_is_kept_whole(large_path: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if large_path:
        monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)
    sc = generate(80, 15, seed=4, provinces=[8])
    first = checked(sc)
    # Pins of the scenario format are hints too; another seed would find another optimum alone.
    again = checked(
        sc,
        hint=[Pin(request=a.request, slot=a.slot, expert=a.expert, contract=a.contract) for a in first.assignments],
        seed=7,
    )
    assert pairs(again) == pairs(first)
    n = len(first.assignments)
    assert again.solver["hint"] == {"given": n, "kept": n, "moved": 0, "dropped": 0}


def test_a_hint_that_blocks_a_more_urgent_request_is_moved_and_coverage_rises() -> None:
    sc = tiny(
        [
            {"id": "both", "skills": {"office_it": 3, "info_security": 3}, "hours": 4},
            {"id": "office", "skills": {"office_it": 3}, "hours": 4},
        ],
        [
            {"id": "urgent", "skills": {"info_security": 3}, "hours": 4, "priority": 5},
            {"id": "routine", "skills": {"office_it": 2}, "hours": 4, "priority": 1},
        ],
    )
    plan = checked(sc, hint=[Hint("routine", 0, "both", "c-both")])
    assert pairs(plan) == {("urgent", 0, "both", "c-both"), ("routine", 0, "office", "c-office")}
    assert plan.objective.covered_weight == 16 + 1  # the hint alone covered 1
    assert plan.solver["hint"] == {"given": 1, "kept": 0, "moved": 1, "dropped": 0}


def test_hints_that_break_a_rule_or_do_not_fit_are_dropped_and_the_rest_kept() -> None:
    sc = tiny(
        [
            {"id": "a", "skills": {"office_it": 3}, "hours": 4},
            {"id": "b", "skills": {"office_it": 3, "e_records": 3}, "hours": 4},
        ],
        [
            {"id": "r1", "skills": {"office_it": 2}, "hours": 4, "priority": 2},
            {"id": "r2", "skills": {"e_records": 2}, "hours": 4, "priority": 3},
            {"id": "r3", "skills": {"office_it": 2}, "hours": 4, "priority": 4},
        ],
    )
    hint = [
        Hint("r1", 0, "a", "c-a"),  # a has 4 hours: r1 or r3, not both; r3 is the more urgent
        Hint("r3", 0, "a", "c-a"),
        Hint("r2", 0, "a", "c-a"),  # a lacks e_records: breaks a rule
        Hint("r9", 0, "a", "c-a"),
    ]  # no such request
    plan = checked(sc, hint=hint)
    assert ("r3", 0, "a", "c-a") in pairs(plan)
    assert ("r2", 0, "b", "c-b") in pairs(plan)  # b is the only one who can, so it is moved there
    assert plan.solver["hint_unusable"] == 3
    assert plan.solver["hint"] == {"given": 4, "kept": 1, "moved": 1, "dropped": 2}


def test_a_generated_hint_with_a_broken_assignment_keeps_the_others() -> None:
    sc = generate(60, 15, seed=2, provinces=[8])
    first = checked(sc)
    hint = as_hint(first)
    victim = hint[0]
    unable = next(
        e
        for e in sc.experts
        if not all(
            e.skills.get(k, 0) >= v for k, v in next(r for r in sc.requests if r.id == victim.request).skills.items()
        )
    )
    contract = next(c.id for c in sc.contracts if c.expert == unable.id)
    hint[0] = Hint(victim.request, victim.slot, unable.id, contract)
    plan = checked(sc, hint=hint)
    assert plan.solver["hint_unusable"] == 1
    assert pairs(first) - {(victim.request, victim.slot, victim.expert, victim.contract)} <= pairs(plan)
    assert plan.solver["hint"]["kept"] == len(hint) - 1
    assert plan.objective.covered_weight >= first.objective.covered_weight


def test_the_time_for_a_replan_grows_with_the_problem() -> None:
    small, medium, country = time_for(200, 700), time_for(2000, 45_000), time_for(10_000, 1_000_000)
    assert 0 < small <= 2 and 5 <= medium <= 12 and 30 <= country <= 60
    assert small <= medium <= country <= time_for(50_000, 5_000_000) == 60
