"""The shortage report of a scenario (`services.matcher.solver.shortage`): its figures add up to
the requests, and its covered weight is the engine's."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.generate import generate
from services.matcher.solver import solve
from services.matcher.solver.limits import weight
from services.matcher.solver.shortage import from_plan, hours_of, main_skill
from services.matcher.solver.value import hour_values
from shared import messages as m
from shared.scenario import Scenario

EXAMPLE = Path(__file__).parents[1] / "data" / "example-small.json"


def adds_up(rows: list[m.GapRow], total: m.GapRow) -> None:
    for field in (
        "requests",
        "hours",
        "weight",
        "covered_requests",
        "covered_hours",
        "covered_weight",
        "uncovered_requests",
        "uncovered_hours",
        "uncovered_weight",
    ):
        assert sum(getattr(r, field) for r in rows) == pytest.approx(getattr(total, field)), field
    for r in [*rows, total]:
        assert r.covered_requests + r.uncovered_requests == r.requests
        assert r.covered_hours + r.uncovered_hours == pytest.approx(r.hours)
        assert r.covered_weight + r.uncovered_weight == r.weight


@pytest.mark.parametrize("source", ["example", "generated"])
def test_every_request_is_counted_once_and_covered_plus_uncovered_is_demand(source: str) -> None:
    sc = (
        Scenario.model_validate_json(EXAMPLE.read_text(encoding="utf-8"))
        if source == "example"
        else generate(120, 25, seed=4, provinces=[8])
    )
    plan = solve(sc, time_limit_s=5)
    report = from_plan(sc, plan, hour_values(sc))
    total = report.total
    assert report.requests == total.requests == len(sc.requests) and report.cancelled == 0
    assert total.hours == pytest.approx(sum(hours_of(r) for r in sc.requests))
    assert total.weight == sum(weight(r.priority) for r in sc.requests)
    assert total.covered_weight == plan.objective.covered_weight
    assert total.uncovered_requests == len({u.request for u in plan.unassigned})
    for rows in (report.by_skill, report.by_unit, report.by_province, report.by_month):
        adds_up(rows, total)
    for axis in ("mode", "expert_kind", "contract_kind"):
        cover = [c for c in report.covered_by if c.by == axis]
        assert sum(c.assignments for c in cover) == len(plan.assignments)
        assert sum(c.hours for c in cover) == pytest.approx(sum(a.minutes for a in plan.assignments) / 60, abs=0.05)
    assert sum(e.assignments for e in report.experts) == len(plan.assignments)
    assert report.values == "lp_duals" and report.bottlenecks
    assert all(b.value_per_hour > 0 for b in report.bottlenecks)


def test_a_request_of_several_skills_counts_under_its_highest_level() -> None:
    sc = generate(5, 2, seed=1, provinces=[8])
    r = sc.requests[0].model_copy(update={"skills": {"office_it": 2, "info_security": 3, "e_records": 3}})
    assert main_skill(r) == ("e_records", 3)  # of equal levels, the first in the catalogue
    assert main_skill(r.model_copy(update={"skills": {}})) == ("none", 0)
