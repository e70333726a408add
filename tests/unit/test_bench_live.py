"""The live benchmarks' pure parts: the percentiles their rows print, the replay's live covered
weight and its hindsight scenario (bench/live.py, bench/bench_replay.py). Nothing is started."""

from __future__ import annotations

import pytest

from bench.bench_replay import declines, hindsight_scenario
from bench.live import live_weight, p50_p99, percentile
from scenarios.generate import generate
from services.matcher.solver.limits import DEFAULT_WEIGHTS


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0], 50) == 1.5  # the mean of two, not either
    xs = [float(i) for i in range(1, 101)]  # 1..100
    assert percentile(xs, 50) == pytest.approx(50.5)
    assert percentile(xs, 99) == pytest.approx(99.01)  # not the maximum
    assert percentile(list(reversed(xs)), 0) == 1.0 and percentile(xs, 100) == 100.0
    with pytest.raises(ValueError):
        percentile(xs, 101)


def test_p50_p99_prints_like_the_issue_table() -> None:
    assert p50_p99([]) == "- (no samples)"
    assert p50_p99([0.004, 0.020]) == "12 ms / 20 ms (n=2)"
    assert p50_p99([5.4, 10.7]) == "8.05 s / 10.65 s (n=2)"


def _p(request: str, status: str, slot: int = 0) -> dict[str, object]:
    return {"request_id": request, "slot": slot, "status": status}


def test_live_weight_counts_requests_whose_every_slot_is_live_or_done() -> None:
    requests = {  # id -> (priority, slots)
        "pending": (1, 1),
        "approved": (2, 1),
        "accepted": (3, 1),
        "completed": (5, 1),
        "declined": (4, 1),  # its only proposal declined, nothing after: not covered
        "redone": (4, 1),  # declined, then proposed again and approved: covered
        "half": (5, 2),  # one slot of two: not covered
        "both": (3, 2),  # both slots: covered
        "never": (5, 1),  # no proposal at all
    }
    proposals = [
        _p("pending", "proposed"),
        _p("approved", "approved"),
        _p("accepted", "accepted"),
        _p("completed", "completed"),
        _p("declined", "declined"),
        _p("redone", "declined"),
        _p("redone", "approved"),
        _p("half", "accepted", 0),
        _p("half", "withdrawn", 1),
        _p("both", "approved", 0),
        _p("both", "proposed", 1),
        _p("not-of-the-day", "approved"),  # ignored
        {"request_id": "never", "status": "cancelled"},  # no slot given: slot 0, and covers nothing
    ]
    expected = sum(DEFAULT_WEIGHTS[p] for p in (1, 2, 3, 5, 4, 3))
    assert live_weight(requests, proposals, DEFAULT_WEIGHTS) == expected == 1 + 2 + 4 + 16 + 8 + 4
    assert live_weight(requests, [], DEFAULT_WEIGHTS) == 0


def test_a_decline_is_fixed_by_the_seed_and_follows_the_share() -> None:
    pairs = [(f"r{i}", f"e{i % 7}") for i in range(2000)]
    first = [declines(3, r, e, 0.1) for r, e in pairs]
    assert first == [declines(3, r, e, 0.1) for r, e in pairs]
    assert 150 < sum(first) < 250
    assert not any(declines(3, r, e, 0.0) for r, e in pairs) and all(declines(3, r, e, 1.0) for r, e in pairs)


def test_hindsight_scenario_excludes_declined_pairs_and_frees_completed_slots() -> None:
    sc = generate(20, 6, seed=2)
    c0 = sc.contracts[0]
    day = hindsight_scenario(sc, [(sc.requests[0].id, sc.experts[1].id)], {c0.id: 3})
    assert [(x.request, x.expert) for x in day.excluded] == [(sc.requests[0].id, sc.experts[1].id)]
    assert day.contracts[0].max_concurrent == c0.max_concurrent + 3
    assert [c.max_concurrent for c in day.contracts[1:]] == [c.max_concurrent for c in sc.contracts[1:]]
    assert day.requests == sc.requests and day.experts == sc.experts


def test_live_tally_takes_the_first_decision_and_waits_for_every_party() -> None:
    from bench.bench_live import Tally

    t = Tally(measuring_since=10.0)
    t.sent["r1"] = 10.0
    t.on_unmatched({"request_id": "r1"}, 10.4)
    t.on_proposed({"event_id": "p1", "request": {"id": "r1", "unit": "w1"}}, 11.0)  # later: not the first
    t.on_proposed({"event_id": "p0", "request": {"id": "old", "unit": "w2"}}, 9.0)  # before measuring
    assert (t.decided, t.how) == ({"r1": 10.4}, {"r1": "unmatched"})
    t.on_delivered({"source_event_id": "p1", "party": "staff:home-affairs"}, 11.02)
    assert t.notified_s() == ([], 1) and not t.all_told()  # the commune not told yet
    t.on_delivered({"source_event_id": "p1", "party": "unit:w1"}, 11.05)
    t.on_delivered({"source_event_id": "p1", "party": "unit:w1"}, 12.0)  # a redelivery: the first counts
    told, missing = t.notified_s()
    assert told == [pytest.approx(0.05)] and missing == 0 and t.all_told()


def test_nobody_acts_on_an_earlier_days_request() -> None:
    import argparse
    import random

    from bench.bench_replay import Day

    day = Day(argparse.Namespace(approve_after=2.0), client=None, rng=random.Random(1), past={"h0"})
    day.on_proposed({"assignment_id": "a1", "request": {"id": "h0"}}, 0.0)
    day.on_other("unmatched")({"request_id": "h0"}, 0.0)
    assert day.waiting == 0 and not day.tasks and not day.counts
    day.on_other("unmatched")({"request_id": "r1"}, 0.0)
    assert day.counts == {"unmatched (event)": 1}


def test_an_expert_logs_the_time_reserved_travel_included_as_the_hindsight_charges_it() -> None:
    import argparse
    import asyncio
    import random

    from bench.bench_replay import Day

    async def approved() -> Day:
        day = Day(argparse.Namespace(seed=1, decline_share=0.0, answer_after=60.0), client=None, rng=random.Random(1))
        evt = {"assignment_id": "a1", "request_id": "r1", "expert_id": "e1", "hours": 2.0, "reserved_minutes": 210}
        day.on_approved(evt, 0.0)
        for task in list(day.tasks):
            task.cancel()
        return day

    assert asyncio.run(approved()).hours == {"a1": 3.5}  # 2 h of work and 45 min each way
