"""The offline planning commands as staff type them: `solve`, `solve --compare`, `candidates`,
`generate`, and their errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from services.matcher.solver import Plan
from services.matcher.solver.validate import validate
from shared.scenario import Scenario

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "example-small.json"
runner = CliRunner()


def test_solve_prints_one_valid_plan() -> None:
    out = runner.invoke(app, ["solve", str(EXAMPLE), "--time-limit", "2"])
    assert out.exit_code == 0, out.output
    plan = Plan.model_validate_json(out.stdout)
    sc = Scenario.model_validate(json.loads(EXAMPLE.read_text()))
    assert validate(sc, plan) == []
    assert plan.assignments and all(a.explanation["summary"] for a in plan.assignments)
    assert plan.objective.upper_bound >= plan.objective.covered_weight > 0


def test_compare_shows_what_a_change_would_do(tmp_path: Path) -> None:
    before = runner.invoke(app, ["solve", str(EXAMPLE), "--time-limit", "2"])
    old = tmp_path / "plan.json"
    old.write_text(before.stdout)
    # What if the first assigned expert went on leave?
    plan = Plan.model_validate_json(before.stdout)
    gone = plan.assignments[0].expert
    sc = json.loads(EXAMPLE.read_text())
    for e in sc["experts"]:
        if e["id"] == gone:
            e["capacity_hours"] = 0
    changed = tmp_path / "leave.json"
    changed.write_text(json.dumps(sc))
    out = runner.invoke(app, ["solve", str(changed), "--time-limit", "2", "--compare", str(old)])
    assert out.exit_code == 0, out.output
    diff = json.loads(out.stdout)
    touched = [*diff["removed"], *({"expert": m["from"]} for m in diff["moved"])]
    assert any(d["expert"] == gone for d in touched)
    assert set(diff["objective_delta"]) >= {"covered_weight", "cost_vnd"}


def test_candidates_for_one_request() -> None:
    out = runner.invoke(app, ["candidates", str(EXAMPLE), "r1", "--limit", "3"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert 0 < len(found) <= 3
    assert {"expert", "contract", "score", "fits_now", "displaces"} <= set(found[0])


def test_bad_input_is_refused_with_the_field(tmp_path: Path) -> None:
    out = runner.invoke(app, ["candidates", str(EXAMPLE), "r-nope"])
    assert out.exit_code == 2 and "r-nope" in out.output
    sc = json.loads(EXAMPLE.read_text())
    sc["requests"][0]["hours"] = -3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sc))
    out = runner.invoke(app, ["solve", str(bad)])
    assert out.exit_code == 2 and "requests.0.hours" in out.output.replace("[", ".").replace("]", "")
    old = tmp_path / "not-a-plan.json"
    old.write_text("{}")
    out = runner.invoke(app, ["solve", str(EXAMPLE), "--time-limit", "1", "--compare", str(old)])
    assert out.exit_code == 2 and "not a plan" in out.output


def test_generate_writes_a_scenario_of_real_communes(tmp_path: Path) -> None:
    target = tmp_path / "tq.json"
    out = runner.invoke(app, ["generate", "30", "8", "--province", "8", "--out", str(target)])
    assert out.exit_code == 0, out.output
    sc = Scenario.model_validate(json.loads(target.read_text()))
    assert len(sc.requests) == 30 and len(sc.experts) == 8
    assert {u.province for u in sc.units} == {"Tuyên Quang"}
