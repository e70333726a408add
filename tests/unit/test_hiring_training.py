"""The training plan (`expertshare plan-training`): which community members to raise to which
level in which skill. Its claimed coverage is what a fresh solve of the trained scenario finds, it
stays within the budget, and brute force over every one-level training finds nothing better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from services.matcher.hiring.training import TrainingPlan, plan_training, trained
from services.matcher.solver import solve
from services.matcher.solver.validate import validate
from shared.scenario import SKILLS, Scenario

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-small.json"
PER_LEVEL = 1_000_000
runner = CliRunner()


def example() -> Scenario:
    return Scenario.model_validate(json.loads(EXAMPLE.read_text()))


def replaced(sc: Scenario, plan: TrainingPlan) -> Scenario:
    """The plan's records put in place of the members' own, as a user would."""
    data = sc.model_dump(mode="json", by_alias=True)
    new = {e["id"]: e for e in plan.experts}
    data["experts"] = [new.get(e["id"], e) for e in data["experts"]]
    return Scenario.model_validate(data)


def fresh(sc: Scenario) -> int:
    plan = solve(sc, time_limit_s=10)
    assert plan.status == "optimal" and validate(sc, plan) == []
    return plan.objective.covered_weight


@pytest.mark.parametrize("budget", [2 * PER_LEVEL, 5 * PER_LEVEL, 12 * PER_LEVEL])
def test_claimed_coverage_is_what_a_fresh_solve_of_the_trained_scenario_finds(budget: int) -> None:
    sc = example()
    plan = plan_training(sc, budget, cost_per_level_vnd=PER_LEVEL)
    assert plan.trainings and plan.verified
    assert plan.covered_weight_before == fresh(sc)
    assert plan.joint_covered_weight == plan.covered_weight_after == fresh(replaced(sc, plan))
    assert plan.gain > 0


@pytest.mark.parametrize("budget", [0, PER_LEVEL - 1, 3 * PER_LEVEL + 1, 7 * PER_LEVEL])
def test_never_over_budget_and_only_community_members(budget: int) -> None:
    sc = example()
    plan = plan_training(sc, budget, cost_per_level_vnd=PER_LEVEL, max_level=3)
    assert plan.cost_vnd == sum(t.cost_vnd for t in plan.trainings) <= budget
    experts = {e.id: e for e in sc.experts}
    for t in plan.trainings:
        assert experts[t.expert].kind == "community"
        assert t.from_level == experts[t.expert].skills.get(t.skill, 0) < t.to_level <= 3
        assert t.cost_vnd == (t.to_level - t.from_level) * PER_LEVEL
    assert len({(t.expert, t.skill) for t in plan.trainings}) == len(plan.trainings)
    if budget < PER_LEVEL:
        assert plan.trainings == [] and plan.gain == 0


def test_brute_force_over_every_one_level_training_finds_nothing_better() -> None:
    sc = example()
    plan = plan_training(sc, PER_LEVEL, cost_per_level_vnd=PER_LEVEL)
    best = fresh(sc)
    for i, e in enumerate(sc.experts):
        if e.kind != "community":
            continue
        for s in SKILLS:
            if e.skills.get(s, 0) < 4:
                best = max(best, fresh(trained(sc, {(i, s): e.skills.get(s, 0) + 1})))
    assert plan.covered_weight_after == best


def test_cli_plan_training() -> None:
    out = runner.invoke(
        app, ["plan-training", str(EXAMPLE), "--budget", "6000000", "--cost-per-level", "1000000", "--json"]
    )
    assert out.exit_code == 0, out.output
    plan = TrainingPlan.model_validate_json(out.stdout)
    assert plan.cost_vnd <= 6_000_000 and plan.covered_weight_after == fresh(replaced(example(), plan))
    text = runner.invoke(app, ["plan-training", str(EXAMPLE), "--budget", "6000000"])
    assert text.exit_code == 0 and "community member" in text.stdout
