"""The parts that make the engine fast at national scale, each checked against something written
apart from it: the option table against the pair-by-pair rules, the bounds against SCIP's
optimum, the large-problem path (LP, rounding, CP-SAT on the LP's support) against the validator
and the same optimum, and the candidates against the eligibility rules."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import services.matcher.solver as engine
from scenarios.generate import generate
from services.matcher.solver import bound, greedy, moves, relax
from services.matcher.solver.candidates import Index, candidates
from services.matcher.solver.options import all_options
from services.matcher.solver.problem import build_problem
from services.matcher.solver.report import build_plan
from services.matcher.solver.table import build
from services.matcher.solver.validate import validate
from shared.scenario import Scenario
from tests.unit.test_solver import mip_coverage

DATA = Path(__file__).resolve().parents[1] / "data"


def tricky(seed: int, n_req: int = 60, n_exp: int = 15) -> Scenario:
    """A generated province with every complication: given travel times, exclusions, languages,
    units without a location, requests in several slots."""
    d = generate(n_req, n_exp, seed=seed, provinces=[8]).model_dump(mode="json", by_alias=True)
    rng = random.Random(seed)
    units = [u["id"] for u in d["units"]]
    pairs = {tuple(sorted(rng.sample(units, 2))) for _ in range(len(units))}
    d["travel_minutes"] = [{"from": a, "to": b, "minutes": rng.randint(0, 200)} for a, b in sorted(pairs)]
    d["excluded"] = [{"request": r["id"], "expert": rng.choice(d["experts"])["id"]} for r in d["requests"][::3]]
    for r in d["requests"][::5]:
        r["language"] = "dao"
    for u in d["units"][:2]:
        u["location"] = None
    d["travel_minutes"].append({"from": units[0], "to": units[0], "minutes": 0})
    for r in d["requests"][1::7]:
        r["slots"] = [{"skills": r["skills"], "hours": 2}, {"skills": {"office_it": 2}, "hours": 3}]
    return Scenario.model_validate(d)


def key(o: object) -> tuple[object, ...]:
    return tuple(
        getattr(o, f)
        for f in ("request", "slot", "expert", "contract", "mode", "travel", "minutes", "cost", "local_rank")
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_option_table_is_exactly_the_pairwise_rules(seed: int) -> None:
    sc = tricky(seed)
    assert sorted(map(key, build(sc).options())) == sorted(map(key, all_options(sc)))


@pytest.mark.parametrize("seed", range(6))
def test_bounds_never_fall_below_the_optimum_and_the_knapsack_bound_is_the_tighter(seed: int) -> None:
    sc = tricky(seed, 90, 12)
    optimum = mip_coverage(sc)
    p = build_problem(sc, build(sc), [], None)
    rx = relax.relax(p, greedy.baseline(p), deadline=float("inf"))
    assert rx.converged and rx.bound >= optimum - 1e-6
    # Converged, the Lagrangian bound from the duals is the LP's optimum (strong duality): a dual
    # put on the wrong row would make it larger.
    assert rx.bound == pytest.approx(rx.lp_value, abs=1e-4)
    knap = bound.evaluate(p, rx.slot_value)
    assert optimum - 1e-6 <= knap <= rx.bound + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_the_large_problem_path_is_valid_and_honest(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forced onto the path of large problems (LP, rounding, CP-SAT on the LP's support), a plan
    breaks no rule, never claims more than the optimum, and says optimal only when it is."""
    monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)
    sc = tricky(seed, 90, 12)
    optimum = mip_coverage(sc)
    plan = engine.solve(sc, time_limit_s=3)
    assert validate(sc, plan) == []
    ob = plan.objective
    assert ob.covered_weight <= optimum <= ob.upper_bound
    assert (plan.status == "optimal") == (ob.covered_weight == ob.upper_bound)
    assert plan.solver["lp_rounds"] >= 1


def test_pins_on_the_large_problem_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)
    sc = tricky(5, 90, 12)
    first = engine.solve(sc, time_limit_s=2)
    pins = [
        {"request": a.request, "expert": a.expert, "contract": a.contract, "slot": a.slot}
        for a in first.assignments[::3]
    ]
    pinned = Scenario.model_validate({**sc.model_dump(mode="json", by_alias=True), "pinned": pins})
    plan = engine.solve(pinned, time_limit_s=2)
    assert validate(pinned, plan) == []
    assert plan.objective.upper_bound >= mip_coverage(pinned)


def test_candidates_are_eligible_ranked_and_say_what_they_displace() -> None:
    sc = Scenario.model_validate(json.loads((DATA / "example-small.json").read_text()))
    eligible = {(o.request, o.expert, o.contract) for o in all_options(sc)}
    for r in sc.requests[:10]:
        found = candidates(sc, r.id, limit=4)
        assert len(found) <= 4
        assert all((r.id, c.expert, c.contract) in eligible for c in found)
        assert all(c.displaces == [] for c in found if c.fits_now)
        assert all(c.displaces for c in found if not c.fits_now)
        ranks = [(len(c.displaces), c.score) for c in found]
        assert ranks == sorted(ranks)


def test_the_index_answers_as_a_fresh_build_would_and_takes_new_requests() -> None:
    sc = Scenario.model_validate(json.loads((DATA / "example-small.json").read_text()))
    index = Index(sc)
    for r in sc.requests[:10]:
        assert index.best(r.id, limit=4) == candidates(sc, r.id, limit=4)
    # A request not in the scenario yet: the same answer as if it had been added (nobody held it).
    like = next(r for r in sc.requests if candidates(sc, r.id))
    new = like.model_copy(update={"id": "r-new", "priority": 5})
    grown = sc.model_copy(update={"requests": [*sc.requests, new]})
    eligible = {(o.expert, o.contract) for o in all_options(grown) if o.request == "r-new"}
    found = index.best(new, limit=4)
    assert found and all((c.expert, c.contract) in eligible for c in found)
    assert all(c.displaces == [] for c in found if c.fits_now)


def test_travel_times_given_twice_must_agree() -> None:
    d = tricky(1).model_dump(mode="json", by_alias=True)
    a, b = d["units"][0]["id"], d["units"][1]["id"]
    d["travel_minutes"] = [{"from": a, "to": b, "minutes": 30}, {"from": b, "to": a, "minutes": 45}]
    with pytest.raises(ValueError, match=r"travel_minutes\[1\].minutes: .* already given as 30"):
        Scenario.model_validate(d)
    d["travel_minutes"] = [{"from": a, "to": a, "minutes": 5}]
    with pytest.raises(ValueError, match=r"travel_minutes\[0\].minutes: a unit is 0 minutes from itself"):
        Scenario.model_validate(d)


def test_a_request_blocked_by_a_limit_says_which() -> None:
    sc = Scenario.model_validate(json.loads((DATA / "example-small.json").read_text()))
    plan = engine.solve(sc, time_limit_s=2)
    e = next(a.expert for a in plan.assignments)
    # Every other expert gone and this one's capacity down to what it already does: whoever is
    # left over was stopped by that capacity (or by the contract, checked after it).
    used = sum(a.minutes for a in plan.assignments if a.expert == e) / 60
    experts = [x.model_copy(update={"capacity_hours": used}) for x in sc.experts if x.id == e]
    only = Scenario.model_validate(
        {
            **sc.model_dump(mode="json", by_alias=True),
            "experts": [x.model_dump(mode="json") for x in experts],
            "contracts": [c.model_dump(mode="json") for c in sc.contracts if c.expert == e],
            "pinned": [],
            "excluded": [],
        }
    )
    again = engine.solve(only, time_limit_s=2)
    assert validate(only, again) == []
    eligible = {o.request for o in all_options(only)}
    blocked = [u for u in again.unassigned if u.request in eligible]
    assert blocked and all(
        u.code in ("expert_capacity", "contract_hours", "contract_budget", "contract_concurrency", "outcompeted")
        for u in blocked
    )
    assert any(u.code == "expert_capacity" for u in blocked)
    assert all(u.code not in ("expert_capacity", "outcompeted") for u in again.unassigned if u.request not in eligible)


def test_a_short_time_limit_still_gives_a_verified_plan() -> None:
    sc = generate(400, 80, seed=2)
    plan = engine.solve(sc, time_limit_s=0.01)
    assert validate(sc, plan) == []
    assert plan.objective.covered_weight > 0 and plan.objective.upper_bound >= plan.objective.covered_weight


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_local_moves_keep_every_rule_and_never_lose_weight(seed: int) -> None:
    sc = tricky(seed, n_req=80, n_exp=12)
    p = build_problem(sc, build(sc), [], None)
    start = greedy.baseline(p)
    moved = moves.improve(p, start, deadline=float("inf"))
    assert p.covered(moved) >= p.covered(start)
    plan = build_plan(p, moved, status="feasible", bound=p.covered(moved), info={})
    assert validate(sc, plan) == []
    assert plan.objective.covered_weight == p.covered(moved)


def test_local_moves_find_what_the_greedy_plan_missed() -> None:
    gains = []
    for seed in range(5):
        sc = generate(150, 25, seed=seed, provinces=[8])
        p = build_problem(sc, build(sc), [], None)
        start = greedy.baseline(p)
        gains.append(p.covered(moves.improve(p, start, deadline=float("inf"))) - p.covered(start))
    assert min(gains) >= 0 and max(gains) > 0
