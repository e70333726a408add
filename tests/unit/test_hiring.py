"""The hiring plan (`expertshare plan-hiring`): its claimed coverage is what a fresh solve of the
merged scenario finds, it never spends more than the budget, brute force over a small menu finds
no better set, and a bad candidate file is refused naming the field."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from scenarios.generate import generate
from services.matcher.hiring.hiring import HiringPlan, plan_hiring
from services.matcher.hiring.menu import Candidate, MenuError, default_menu, merge, parse_menu
from services.matcher.solver import solve
from services.matcher.solver.validate import validate
from shared.scenario import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "example-small.json"
MENU = DATA / "candidates-small.json"
runner = CliRunner()


def example() -> Scenario:
    return Scenario.model_validate(json.loads(EXAMPLE.read_text()))


def menu(sc: Scenario) -> list[Candidate]:
    return parse_menu(json.loads(MENU.read_text()), sc)


def merged(sc: Scenario, plan: HiringPlan) -> Scenario:
    """The plan's records merged as a user would: its JSON arrays appended to the scenario's."""
    data = sc.model_dump(mode="json", by_alias=True)
    data["experts"] += plan.experts
    data["contracts"] += plan.contracts
    return Scenario.model_validate(data)


def fresh(sc: Scenario) -> int:
    plan = solve(sc, time_limit_s=10)
    assert plan.status == "optimal" and validate(sc, plan) == []
    return plan.objective.covered_weight


@pytest.mark.parametrize("budget", [6_000_000, 12_000_000, 30_000_000])
def test_claimed_coverage_is_what_a_fresh_solve_of_the_merged_scenario_finds(budget: int) -> None:
    sc = example()
    plan = plan_hiring(sc, budget, menu(sc))
    assert plan.hires and plan.verified
    assert plan.covered_weight_before == fresh(sc)
    assert plan.joint_covered_weight == plan.covered_weight_after == fresh(merged(sc, plan))
    assert plan.gain == plan.covered_weight_after - plan.covered_weight_before > 0


def test_on_a_province_with_the_default_menu_the_gain_holds_and_beats_nothing() -> None:
    sc = generate(200, 60, seed=1)
    plan = plan_hiring(sc, 40_000_000)
    assert plan.menu == "default" and 0 < plan.candidates <= 100
    assert plan.verified and plan.covered_weight_after == fresh(merged(sc, plan)) > plan.covered_weight_before
    assert plan.simple_rule is not None and plan.simple_rule.cost_vnd <= 40_000_000
    assert plan.covered_weight_after >= plan.simple_rule.covered_weight_after
    assert sum(h.covers.weight for h in plan.hires) >= plan.gain > 0


@pytest.mark.parametrize("budget", [0, 1_999_999, 2_400_000, 8_399_999, 15_000_000, 10**9])
def test_never_over_budget(budget: int) -> None:
    sc = example()
    cands = {c.id: c for c in menu(sc)}
    plan = plan_hiring(sc, budget, list(cands.values()), compare=False)
    assert plan.cost_vnd <= budget
    assert plan.cost_vnd == sum(h.cost_vnd for h in plan.hires) == sum(cands[h.candidate].cost_vnd for h in plan.hires)
    for h, k in zip(plan.hires, plan.contracts, strict=True):
        # What the contract may spend at most is what the hire costs.
        full = -(-round(k["hours_cap"] * 60) * k["hourly_rate_vnd"] // 60)
        assert h.cost_vnd == min(full, k["budget_cap_vnd"] or full)
    if budget < min(c.cost_vnd for c in cands.values()):
        assert plan.hires == [] and plan.covered_weight_after == plan.covered_weight_before


def test_brute_force_over_the_menu_finds_no_better_set() -> None:
    sc = example()
    cands = menu(sc)
    budget = 12_000_000
    plan = plan_hiring(sc, budget, cands, compare=False)
    best = 0
    for k in range(len(cands) + 1):
        for subset in itertools.combinations(cands, k):
            if sum(c.cost_vnd for c in subset) <= budget:
                best = max(best, fresh(merge(sc, list(subset))))
    assert plan.covered_weight_after == best


def test_the_simple_rule_spends_within_the_budget_and_is_judged_by_the_engine() -> None:
    sc = example()
    plan = plan_hiring(sc, 12_000_000, menu(sc))
    rule = plan.simple_rule
    assert rule is not None and rule.hires and rule.cost_vnd <= 12_000_000
    chosen = [c for c in menu(sc) if c.id in rule.hires]
    assert rule.covered_weight_after == fresh(merge(sc, chosen)) <= plan.covered_weight_after


def test_the_default_menu_follows_the_scenario() -> None:
    sc = example()
    cands = default_menu(sc, solve(sc, time_limit_s=2))
    projects = [c for c in sc.contracts if c.kind == "project"]
    assert 0 < len(cands) <= 100 and len({c.id for c in cands}) == len(cands)
    assert {c.hourly_rate_vnd for c in cands} <= {c.hourly_rate_vnd for c in projects}
    assert all(c.home_unit is None or c.home_unit in {u.id for u in sc.units} for c in cands)
    assert any(c.home_unit is None for c in cands) and any(c.home_unit for c in cands)


def test_cli_json_is_ready_to_merge(tmp_path: Path) -> None:
    out = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "12000000", "--candidates", str(MENU), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {
        "experts",
        "contracts",
        "covered_weight_before",
        "covered_weight_after",
        "cost_vnd",
        "hires",
        "simple_rule",
    } <= set(data)
    sc = example()
    plan = HiringPlan.model_validate(data)
    assert fresh(merged(sc, plan)) == data["covered_weight_after"]
    files = {c.id: c for c in menu(sc)}
    for h, e, k in zip(plan.hires, plan.experts, plan.contracts, strict=True):
        c = files[h.candidate]
        assert (e["id"], k["id"], k["expert"]) == ("hire-" + c.id, "hire-" + c.id + "-c", e["id"])
        assert e["onsite"] == (c.home_unit is not None) and e["remote"] == c.remote and e["skills"] == c.skills
        assert (k["hours_cap"], k["hourly_rate_vnd"], k["budget_cap_vnd"]) == (
            c.hours_cap,
            c.hourly_rate_vnd,
            c.budget_cap_vnd,
        )
    text = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "12000000", "--candidates", str(MENU)])
    assert text.exit_code == 0, text.output
    assert "checked: a fresh solve" in text.stdout and "simple rule" in text.stdout


def bad_file(tmp_path: Path, change: Any) -> Path:
    data = json.loads(MENU.read_text())
    change(data)
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["candidates"][1].update(hours_capp=3), "candidates.1.hours_capp"),
        (lambda d: d["candidates"][2]["skills"].update(cooking=2), "candidates.2.skills"),
        (lambda d: d["candidates"][0].update(home_unit="w999999"), "candidates.0.home_unit"),
        (lambda d: d["candidates"][3].update(id="x" * 51), "candidates.3.id"),
        (lambda d: d["candidates"][3].update(name="n" * 201), "candidates.3.name"),
        (lambda d: d["candidates"][4].update(hourly_rate_vnd=-1), "candidates.4.hourly_rate_vnd"),
        (lambda d: d["candidates"][4].update(hours_cap=0.01), "candidates.4.hours_cap"),
        (lambda d: d["candidates"][5].update(id="sec-w2269"), "candidates.5.id: duplicate"),
        (lambda d: d["candidates"][5].update(skills={}), "candidates.5.skills"),
        (lambda d: d["candidates"][1].update(remote=False), "remote cannot be false"),
        (lambda d: d.update(candidates=d["candidates"] * 200), "candidates: List should have at most 1000"),
        (lambda d: d.pop("candidates"), "candidates: Field required"),
    ],
)
def test_bad_candidate_files_are_refused_naming_the_field(tmp_path: Path, change: Any, named: str) -> None:
    path = bad_file(tmp_path, change)
    out = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "1000000", "--candidates", str(path)])
    assert out.exit_code == 2, out.output
    assert named in out.output and str(path) in out.output


def test_unreadable_candidate_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "menu.json"
    path.write_text("{not json")
    out = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "1", "--candidates", str(path)])
    assert out.exit_code == 2 and "not valid JSON" in out.output
    out = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "1", "--candidates", str(tmp_path / "none")])
    assert out.exit_code == 2 and "no such file" in out.output
    with pytest.raises(MenuError, match="JSON object"):
        parse_menu([], example())
    out = runner.invoke(app, ["plan-hiring", str(EXAMPLE), "--budget", "-5"])
    assert out.exit_code == 2


def test_pinned_assignments_are_kept_and_the_figures_still_hold() -> None:
    sc = example()
    first = solve(sc, time_limit_s=5)
    pins = [
        {"request": a.request, "expert": a.expert, "contract": a.contract, "slot": a.slot}
        for a in first.assignments[:4]
    ]
    data = sc.model_dump(mode="json", by_alias=True)
    data["pinned"] = pins
    pinned = Scenario.model_validate(data)
    plan = plan_hiring(pinned, 12_000_000, menu(pinned), compare=False)
    again = merged(pinned, plan)
    checked = solve(again, time_limit_s=10)
    assert validate(again, checked) == []
    assert plan.verified and plan.covered_weight_after == checked.objective.covered_weight
    assert plan.covered_weight_before == fresh(pinned)


def test_the_restricted_sets_of_a_large_problem_give_a_plan_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond joint.FULL_OPTIONS the joint model gets successively wider sets: here forced on a
    small problem, whose optimum brute force knows."""
    from services.matcher.hiring import joint

    monkeypatch.setattr(joint, "FULL_OPTIONS", 50)
    sc = example()
    plan = plan_hiring(sc, 12_000_000, menu(sc), compare=False)
    rounds = plan.solver["joint_rounds"]
    assert rounds and rounds[0]["options"] < plan.solver["options"]
    assert [r["per_slot"] for r in rounds] == list(joint.WIDEN[: len(rounds)])
    assert plan.cost_vnd <= 12_000_000
    # The joint model's plan exists in the merged scenario: the fresh solve finds at least as much.
    assert plan.joint_covered_weight <= plan.covered_weight_after == fresh(merged(sc, plan))
    assert plan.covered_weight_after == 245  # brute force's best for this budget (test above)


def test_planning_again_on_a_merged_scenario_draws_new_ids() -> None:
    sc = example()
    once = plan_hiring(sc, 20_000_000, compare=False)
    assert once.hires
    grown = merged(sc, once)
    twice = plan_hiring(grown, 20_000_000, compare=False)
    assert not {h.expert for h in twice.hires} & {e.id for e in grown.experts}
    assert twice.verified and twice.covered_weight_before == once.covered_weight_after
    merged(grown, twice)  # valid: no id twice
