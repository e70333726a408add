"""The offline replay of a day (`bench/sim_day.py`): the placement's own decisions over the
replay's arrivals, measured against the same hindsight."""

from __future__ import annotations

import argparse

import pytest

from bench import sim_day


def args(**over: float | str) -> argparse.Namespace:
    base = dict(
        size="small",
        day=None,
        approve_after=2.0,
        answer_after=2.0,
        work_after=5.0,
        decline_share=0.1,
        replan=0.0,
        replan_limit=0.5,
        hindsight_limit=5.0,
        w_scarce=300.0,
        foresight="",
        lookahead=10,
        lookahead_limit=1.0,
    )
    return argparse.Namespace(**(base | over))


def test_a_small_day_is_never_above_its_hindsight_and_repeats_for_a_seed() -> None:
    first = sim_day.run(1, args())
    assert 0 < first["live"] <= first["hindsight"]
    assert sim_day.run(1, args()) == first


def test_seeds_are_read_as_a_range_or_a_list() -> None:
    assert sim_day.seeds("1-3") == [1, 2, 3] and sim_day.seeds("2,5") == [2, 5]


def test_a_history_is_drawn_over_the_days_units_apart_from_its_requests() -> None:
    from bench.bench_replay import history
    from scenarios.generate import generate

    sc = generate(40, 15, seed=1)
    past = history(sc, 5)
    assert [r.id for r in past] == ["h0", "h1", "h2", "h3", "h4"]
    assert {r.unit for r in past} <= {u.id for u in sc.units}


@pytest.mark.parametrize("foresight", ["price", "plan", "sample"])
def test_a_day_with_foresight_is_never_above_its_hindsight_and_repeats(foresight: str) -> None:
    first = sim_day.run(1, args(foresight=foresight))
    assert 0 < first["live"] <= first["hindsight"]
    assert sim_day.run(1, args(foresight=foresight)) == first


def sim(**over: float | str) -> sim_day.Sim:
    from random import Random

    from scenarios.generate import generate

    sc = generate(40, 15, seed=1)
    return sim_day.Sim(sc, args(**over), sim_day.reference(sc, True), sim_day.initial_room(sc), Random(1))


def test_a_request_the_plan_of_the_rest_of_the_day_leaves_out_is_kept_uncovered() -> None:
    day = sim(foresight="plan")
    r = day.sc.requests[0]
    assert day.place(r)  # not looked at: placed as live
    day.props.clear()
    day.looked_at = {r.id}
    assert not day.place(r) and not day.props


def test_a_request_takes_its_planned_option_where_it_still_fits() -> None:
    day = sim(foresight="plan")
    day.to_come = list(day.sc.requests)
    day.look_ahead()
    r = next(r for r in day.sc.requests if r.id in day.planned)
    assert day.place(r)
    assert [(p.expert, p.contract) for p in day.props] == [(a.expert, a.contract) for a in day.planned[r.id]]


def test_a_drawn_requests_hold_gives_way_to_an_arrival_as_urgent_and_only_steers_a_less_urgent_one() -> None:
    day = sim(foresight="sample")
    r = day.sc.requests[0]
    contract_of = {c.expert: day.ref.c_pos[c.id] for c in day.sc.contracts}
    # One drawn request holding every expert's whole time.
    everything = [(k, contract_of[e.id], int(day.room.e[k]), 0) for k, e in enumerate(day.sc.experts)]
    day.held = [(1, everything)]
    assert day.place(r) and day.held == []  # released for an arrival at least as urgent
    day.props.clear()
    day.room = sim_day.initial_room(day.sc)
    day.held = [(32, everything)]
    assert day.place(r) and day.held == [(32, everything)]  # placed as live, the hold kept
