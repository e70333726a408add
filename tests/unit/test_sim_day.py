"""The offline replay of a day (`bench/sim_day.py`): the placement's own decisions over the
replay's arrivals, measured against the same hindsight."""

from __future__ import annotations

import argparse

from bench import sim_day


def args(**over: float) -> argparse.Namespace:
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
    )
    return argparse.Namespace(**(base | over))


def test_a_small_day_is_never_above_its_hindsight_and_repeats_for_a_seed() -> None:
    first = sim_day.run(1, args())
    assert 0 < first["live"] <= first["hindsight"]
    assert sim_day.run(1, args()) == first


def test_seeds_are_read_as_a_range_or_a_list() -> None:
    assert sim_day.seeds("1-3") == [1, 2, 3] and sim_day.seeds("2,5") == [2, 5]


def test_a_history_is_drawn_over_the_days_units_apart_from_its_requests() -> None:
    from scenarios.generate import generate

    sc = generate(40, 15, seed=1)
    past = sim_day.history(sc, 5)
    assert [r.id for r in past] == ["h0", "h1", "h2", "h3", "h4"]
    assert {r.unit for r in past} <= {u.id for u in sc.units}
