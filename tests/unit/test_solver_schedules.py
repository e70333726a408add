"""Column generation over expert schedules (`solver/schedules.py`): its bound is never below the
optimum (SCIP on every option), every schedule and the dive's plan keep every limit, the dive is
deterministic, a plan taken from it fills whole requests only and never covers less than the plan
it started from, and the engine's plans through it stay valid (requests of several slots too);
the boxed generation stops at a true bound, and the used shape takes it only with time for it."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import pytest

import services.matcher.solver as engine
from scenarios.generate import generate
from services.matcher.solver import greedy, mip, relax, schedules
from services.matcher.solver.greedy import Room
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.table import build
from services.matcher.solver.validate import validate
from shared.scenario import Scenario, Slot

DAY = dt.date(2026, 12, 1)


def long_problem(seed: int, n_requests: int = 120, n_experts: int = 25) -> Problem:
    sc = generate(n_requests, n_experts, seed=seed, provinces=[8], start=DAY, shape="long")
    return build_problem(sc, build(sc), [], None)


def keeps_every_limit(p: Problem, chosen: list[int] | tuple[int, ...]) -> bool:
    room, slots, pairs = Room(p), set(), set()
    for o in chosen:
        args = (int(p.e[o]), int(p.c[o]), int(p.minutes[o]), int(p.cost[o]))
        pair = (int(p.r[o]), int(p.e[o]))
        if int(p.s[o]) in slots or pair in pairs or not room.fits(*args):
            return False
        room.take(*args)
        slots.add(int(p.s[o]))
        pairs.add(pair)
    return True


def optimum(p: Problem) -> int:
    report: dict[str, float] = {}
    found = mip.best_coverage(p, np.arange(p.n), [], 60.0, report=report)
    assert found is not None and p.covered(found) == math.floor(report["bound"] + 1e-6)  # proven
    return p.covered(found)


def converged_search(p: Problem) -> schedules.Search:
    rx = relax.relax(p, greedy.baseline(p), time.monotonic() + 30)
    s = schedules.Search(p, [greedy.baseline(p)], rx.slot_value, (rx.columns, rx.x))
    _, converged = s.generate(time.monotonic() + 60)
    assert converged
    return s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_bound_is_never_below_the_optimum_and_every_schedule_keeps_every_limit(seed: int) -> None:
    p = long_problem(seed)
    s = converged_search(p)
    best = optimum(p)
    assert s.best + 1e-6 >= best
    assert all(keeps_every_limit(p, sch.options) for sch in s.master.schedules)
    chosen, _ = s.dive(time.monotonic() + 60)
    assert keeps_every_limit(p, chosen)
    assert p.covered(chosen) <= math.floor(s.best + 1e-6)


def test_the_dive_is_deterministic() -> None:
    p = long_problem(4)
    plans = []
    for _ in range(2):
        s = converged_search(p)
        plans.append(s.dive(time.monotonic() + 60))
    assert plans[0] == plans[1]


def two_slot_scenario(seed: int) -> Scenario:
    """A long-shaped province where every fourth request needs two experts."""
    sc = generate(150, 30, seed=seed, provinces=[8], start=DAY, shape="long")
    requests = [
        r.model_copy(update={"slots": [Slot(skills=r.skills, hours=r.hours)] * 2}) if k % 4 == 0 else r
        for k, r in enumerate(sc.requests)
    ]
    return sc.model_copy(update={"requests": requests})


def test_whole_requests_drops_a_request_half_filled() -> None:
    sc = two_slot_scenario(1)
    p = build_problem(sc, build(sc), [], None)
    two = next(r for r in range(p.n_requests) if np.count_nonzero(p.slot_request == r) == 2 and p.free_request[r])
    one_slot = next(int(o) for o in np.flatnonzero(p.r == two))
    one_slot_request = np.bincount(p.slot_request, minlength=p.n_requests)[p.r] == 1
    single = next(int(o) for o in np.flatnonzero(p.free_request[p.r] & one_slot_request))
    assert schedules.whole_requests(p, [one_slot, single]) == [single]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_engine_through_schedules_keeps_every_rule_and_never_covers_less(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)  # the path of large problems
    monkeypatch.setattr(engine, "SCHEDULES_MAX_TASKS", 100.0)  # whatever the shape
    sc = two_slot_scenario(seed)
    p = build_problem(sc, build(sc), [], None)
    start = greedy.baseline(p)
    rx = relax.relax(p, start, time.monotonic() + 30)
    out = engine._schedules(p, start, rx, time.monotonic() + 3)
    taken, _, bound = engine._take_schedules(p, out, start, np.asarray(start), time.monotonic(), {})
    assert keeps_every_limit(p, taken) and p.covered(taken) >= p.covered(start)
    assert bound is not None and bound >= p.covered(taken)
    plan = engine.solve(sc, time_limit_s=3)
    assert validate(sc, plan) == []
    assert "schedules_rounds" in plan.solver
    assert 0 < plan.objective.covered_weight <= plan.objective.upper_bound


def test_schedules_run_where_experts_hold_few_tasks_and_not_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)
    few = generate(300, 60, seed=1, provinces=[8], start=DAY, shape="mixed")
    many = generate(300, 60, seed=1, provinces=[8], start=DAY)
    held = [schedules.tasks_per_expert(build_problem(sc, build(sc), [], None)) for sc in (few, many)]
    assert held[0] <= engine.SCHEDULES_MAX_TASKS < held[1]
    assert engine.solve(few, time_limit_s=2).solver["schedules_run"] is True
    assert engine.solve(many, time_limit_s=2).solver["schedules_run"] is False


@pytest.mark.parametrize("seed", [1, 2])
def test_on_the_used_shape_the_boxed_generation_stops_at_a_true_bound(seed: int) -> None:
    """The box (`schedules.BOX`) bounds the prices while the generation heads in; once it stops,
    the box is gone, the LP is a true master's (at most the relaxation's, so at most the bound)
    and the bound, never below the optimum, is within STOP_GAP of it, rounded down."""
    sc = generate(120, 25, seed=seed, provinces=[8], start=DAY, shape="used")
    p = build_problem(sc, build(sc), [], None)
    rx = relax.relax(p, greedy.baseline(p), time.monotonic() + 30)
    s = schedules.Search(p, [greedy.baseline(p)], rx.slot_value, (rx.columns, rx.x))
    lp, converged = s.generate(time.monotonic() + 60)
    best = optimum(p)
    assert converged and not s.boxed
    assert s.best + 1e-6 >= max(lp, best)
    assert math.floor(s.best + 1e-6) <= lp + max(1e-6, schedules.STOP_GAP * lp)


def test_the_used_shape_takes_the_schedules_only_with_time_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = generate(300, 60, seed=1, provinces=[8], start=DAY, shape="used")
    p = build_problem(sc, build(sc), [], None)
    rx = relax.relax(p, greedy.baseline(p), time.monotonic() + 30)
    held = schedules.tasks_per_expert(p)
    assert engine.SCHEDULES_MAX_TASKS < held <= engine.SCHEDULES_BUSY_MAX_TASKS
    assert engine._schedule_shares(p, rx, 100.0) is None  # under SIDE_MAX_OPTIONS: SCIP on every option
    monkeypatch.setattr(engine, "SIDE_MAX_OPTIONS", 0)
    assert engine._schedule_shares(p, rx, 100.0) == engine.SCHEDULES_BUSY_SHARES
    assert engine._schedule_shares(p, rx, engine.SCHEDULES_BUSY_LP_TIMES - 1) is None  # a busy machine
