"""A request may take a community member of its commune as a trainee beside the expert: named when
one fits, never at the cost of coverage, and checked by the independent validator."""

from __future__ import annotations

import io
from typing import Any

from scenarios.generate import generate
from services.matcher.solver import Plan, solve
from services.matcher.solver.validate import validate
from shared.scenario import Scenario


def scenario(**change: Any) -> Scenario:
    """One commune u1 asking for office IT level 3, remote; the expert x1 lives in u2. In u1: the
    community member c1 (level 1) and c3 (already level 3); in u2 the community member c2."""

    def person(eid: str, unit: str, level: int, capacity: float = 20, kind: str = "community") -> dict[str, Any]:
        return {
            "id": eid,
            "name": eid,
            "home_unit": unit,
            "kind": kind,
            "skills": {"office_it": level} if level else {},
            "remote": True,
            "onsite": True,
            "max_travel_minutes": 60,
            "capacity_hours": capacity,
        }

    data: dict[str, Any] = {
        "horizon": {"start": "2026-12-01", "end": "2026-12-31"},
        "units": [{"id": u, "name": u, "province": "TQ", "network": "good"} for u in ("u1", "u2")],
        "experts": [
            person("x1", "u2", 4, 40, "shared"),
            person("c1", "u1", 1),
            person("c2", "u2", 0),
            person("c3", "u1", 3),
        ],
        "contracts": [
            {
                "id": "k1",
                "expert": "x1",
                "kind": "sharing",
                "hourly_rate_vnd": 100_000,
                "hours_cap": 40,
                "max_concurrent": 5,
                "start": "2026-12-01",
                "end": "2026-12-31",
            }
        ],
        "requests": [
            {
                "id": "r1",
                "unit": "u1",
                "title": "t",
                "skills": {"office_it": 3},
                "mode": "remote",
                "hours": 2,
                "priority": 3,
                "deadline": "2026-12-20",
                "trainee": True,
            },
            {
                "id": "r2",
                "unit": "u1",
                "title": "t",
                "skills": {"office_it": 3},
                "mode": "remote",
                "hours": 2,
                "priority": 3,
                "deadline": "2026-12-20",
            },
        ],
    }
    for key, value in change.items():
        data[key] = value(data[key]) if callable(value) else value
    return Scenario.model_validate(data)


def checked(sc: Scenario) -> Plan:
    plan = solve(sc, time_limit_s=5.0, workers=1)
    assert validate(sc, plan) == [], validate(sc, plan)
    return plan


def by_request(plan: Plan) -> dict[str, Any]:
    return {a.request: a for a in plan.assignments}


def test_a_request_with_the_option_gets_a_community_member_of_its_commune() -> None:
    plan = checked(scenario())
    got = by_request(plan)
    assert got["r1"].expert == "x1" and got["r1"].trainee == "c1" and got["r1"].trainee_minutes == 120
    assert got["r2"].trainee is None and got["r2"].trainee_minutes == 0  # not asked for
    assert got["r1"].cost_vnd == got["r2"].cost_vnd  # the trainee costs the contract nothing


def test_no_trainee_when_none_fits() -> None:
    # c1 has 1 h free (the slot takes 2 h); c2 lives elsewhere; c3 has nothing to learn.
    def busy(experts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**e, "committed_hours": 19} if e["id"] == "c1" else e for e in experts]

    plan = checked(scenario(experts=busy))
    assert [a.trainee for a in plan.assignments] == [None, None]
    assert plan.objective.covered_weight == checked(scenario()).objective.covered_weight


def test_a_learner_may_start_from_zero_and_the_closest_to_the_level_goes_first() -> None:
    def zero(experts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*experts, {**experts[1], "id": "c0", "name": "c0", "skills": {}}]

    assert by_request(checked(scenario(experts=zero)))["r1"].trainee == "c1"  # level 1 before level 0
    no_c1 = scenario(experts=lambda ex: [e for e in zero(ex) if e["id"] != "c1"])
    assert by_request(checked(no_c1))["r1"].trainee == "c0"


def test_coverage_is_identical_with_and_without_the_option() -> None:
    base = generate(80, 30, seed=3, provinces=[8])
    asked = base.model_copy(update={"requests": [r.model_copy(update={"trainee": True}) for r in base.requests]})
    without, with_ = checked(base), checked(asked)
    assert with_.objective == without.objective

    def core(p: Plan) -> list[tuple[str, int, str, str]]:
        return sorted((a.request, a.slot, a.expert, a.contract) for a in p.assignments)

    assert core(with_) == core(without)
    assert any(a.trainee for a in with_.assignments)  # the case does name trainees
    assert not any(a.trainee for a in without.assignments)


def test_the_validator_refuses_a_trainee_from_another_commune_over_capacity_or_not_community() -> None:
    sc = scenario()
    plan = checked(sc)

    def with_trainee(eid: str) -> list[str]:
        moved = [a.model_copy(update={"trainee": eid}) if a.request == "r1" else a for a in plan.assignments]
        return [str(v) for v in validate(sc, plan.model_copy(update={"assignments": moved}))]

    assert any("not in the request's commune" in e for e in with_trainee("c2"))
    assert any("nothing to learn" in e for e in with_trainee("c3"))
    assert any("a trainee must be a community member" in e for e in with_trainee("x1"))
    tired = scenario(experts=lambda ex: [{**e, "committed_hours": 19} if e["id"] == "c1" else e for e in ex])
    errors = [str(v) for v in validate(tired, plan)]
    assert any(e.startswith("expert c1: time") for e in errors), errors
    stray = [a.model_copy(update={"trainee": "c1", "trainee_minutes": 120}) for a in plan.assignments]
    assert any("asks for no trainee" in str(e) for e in validate(sc, plan.model_copy(update={"assignments": stray})))


def test_the_shortage_report_counts_the_trainee_hours_by_skill_and_commune() -> None:
    from cli.gaps_commands import print_report, write_csv
    from services.matcher.solver.shortage import from_plan

    def third(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*requests, {**requests[0], "id": "r3", "hours": 1.5, "priority": 5}]

    sc = scenario(requests=third)
    plan = checked(sc)
    assert sorted((a.request, a.trainee) for a in plan.assignments) == [("r1", "c1"), ("r2", None), ("r3", "c1")]
    report = from_plan(sc, plan, None)
    [row] = report.learnt
    assert (row.skill, row.level, row.unit, row.trainees, row.assignments, row.hours) == (
        "office_it",
        3,
        "u1",
        1,
        2,
        3.5,
    )
    assert row.skill_label == "Tin học văn phòng, mức 3"
    lines: list[str] = []
    print_report(report, "vi", "t", out=lines.append)
    assert "  Tin học văn phòng, mức 3, u1: 1 người, 2 phân công, 3,5 giờ" in lines
    text = io.StringIO()
    write_csv(report, text)
    assert any(line.startswith("learnt,office_it=3@u1,") for line in text.getvalue().splitlines())
    assert (
        from_plan(sc, checked(scenario(requests=lambda rs: [{**r, "trainee": False} for r in third(rs)])), None).learnt
        == []
    )


def test_the_submit_command_asks_for_a_trainee_with_its_flag(monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from cli import main

    sent: list[Any] = []
    monkeypatch.setattr(main, "command", lambda subject, message, done: sent.append(message))
    monkeypatch.setattr(main, "me", lambda given: "officer")  # no credential needed: nothing is sent
    args = [
        "request",
        "submit",
        "--id",
        "r9",
        "--unit",
        "u1",
        "--title",
        "x",
        "--skill",
        "office_it=2",
        "--hours",
        "2",
        "--deadline",
        "2099-01-01",
    ]
    for extra in ([], ["--trainee"]):
        result = CliRunner().invoke(main.app, [*args, *extra])
        assert result.exit_code == 0, result.output
    assert [c.request.trainee for c in sent] == [False, True]
