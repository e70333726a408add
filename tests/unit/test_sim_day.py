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
