"""A request is decided at once (`placement`), and what a re-plan solved meanwhile never gives the
same hours twice. The use cases are called directly on the matcher's tables (SQLite, and
PostgreSQL when EXPERTSHARE_TEST_PG is set); a re-plan is held between its snapshot and its writes
by wrapping its solve, and a placement is made at that point."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, select

from services.matcher import handlers as h
from services.matcher import planner
from services.matcher.db import PlanRun, RequestRow
from services.matcher.placement import Reference, place_open, reference_key
from services.matcher.solver import Plan
from services.matcher.solver.validate import validate
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import transaction
from shared.scenario import Scenario
from tests import people
from tests.integration.services_harness import contract, expert
from tests.integration.test_matcher_races import handle, matcher, one, outbox, proposals, request, submit


def place(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Rounds of placement until one decides nothing (a round is bounded in time): (proposed,
    unmatched) in all."""
    proposed = unmatched = 0
    while True:
        with transaction(engine) as ses:
            ref = Reference.read(ses, local_today(), reference_key(ses, local_today()))
            p, u = place_open(ses, ref, today=local_today(), cause=m.Message())
        if not p + u:
            return proposed, unmatched
        proposed, unmatched = proposed + p, unmatched + u


def request_row(engine, rid: str) -> RequestRow:  # type: ignore[no-untyped-def]
    with Session(engine) as ses:
        row = ses.get(RequestRow, rid)
        assert row is not None
        return row


def test_a_new_request_takes_the_best_option_that_fits_and_its_input_is_kept(db_url: str) -> None:
    # e0 is the cheaper (100 000 ₫/h against 200 000): ranked first.
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    assert place(engine) == (1, 0)
    p = one(engine, "r1")
    assert (p.expert_id, p.contract_id, p.cost_vnd) == ("e0", "c0", 400_000)
    assert request_row(engine, "r1").status == "proposed"
    [event] = outbox(engine, s.ASSIGNMENT_PROPOSED)
    assert event["explanation"]["summary"].startswith("remote, 4 h")
    # The audit trail's digest names the input the decision was made from; the independent
    # validator accepts the decision against it.
    with Session(engine) as ses:
        run = ses.exec(select(PlanRun).where(PlanRun.input_sha256 == event["plan_input_sha256"])).one()
    assert run.status == "placed" and run.id == p.plan_id
    sc = Scenario.model_validate(json.loads(run.scenario))
    assert [r.id for r in sc.requests] == ["r1"] and {e.id for e in sc.experts} == {"e0", "e1"}
    assert (
        validate(
            sc,
            Plan(
                status="feasible",
                assignments=[
                    {
                        "request": "r1",
                        "expert": "e0",
                        "contract": "c0",
                        "mode": "remote",
                        "travel_minutes": 0,
                        "minutes": 240,
                        "cost_vnd": 400_000,
                    }
                ],
            ),
        )
        == []
    )
    assert place(engine) == (0, 0)  # nothing waits any more


def test_pending_proposals_hold_their_hours_and_then_nothing_fits_is_told_once(db_url: str) -> None:
    # One expert with 6 h: one 4-hour request fits, the second does not.
    engine = matcher(db_url, [expert(0, capacity_hours=6)], [contract(0)])
    submit(engine, "r1")
    submit(engine, "r2", priority=2)
    assert place(engine) == (1, 1)
    assert one(engine, "r1").expert_id == "e0"
    row = request_row(engine, "r2")
    assert (row.status, row.reason_code) == ("unmatched", "expert_capacity")
    assert row.reason == "all eligible experts are at capacity"
    assert [e["request_id"] for e in outbox(engine, s.REQUEST_UNMATCHED)] == ["r2"]
    assert place(engine) == (0, 0)  # an unmatched request is left to the re-plan: told once
    submit(engine, "r3", skills={"info_security": 5})
    place(engine)
    assert request_row(engine, "r3").reason_code == "no_skill"


def test_the_most_urgent_waiting_request_is_placed_first(db_url: str) -> None:
    engine = matcher(db_url, [expert(0, capacity_hours=4)], [contract(0)])
    submit(engine, "r1", priority=1)
    submit(engine, "r2", priority=5)
    assert place(engine) == (1, 1)
    assert [p.request_id for p in proposals(engine)] == ["r2"]


def decline(engine, rid: str) -> None:  # type: ignore[no-untyped-def]
    p = one(engine, rid)
    handle(
        engine,
        h.on_declined,
        m.AssignmentDeclined(
            assignment_id=p.id,
            request_id=rid,
            unit_id="u1",
            expert_id=p.expert_id,
            contract_id=p.contract_id,
            reason="away",
        ),
    )


def test_a_new_request_is_decided_before_those_open_again(db_url: str) -> None:
    """A re-plan (or a burst of declines) leaves hundreds open again at once; a request submitted
    then waited behind all of them (rounds of 100 took 1 to 4.7 s on a country). Now only behind
    the round in progress: among equally urgent requests the never-decided go first."""
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    place(engine)
    decline(engine, "r1")  # open again, and older than r2
    submit(engine, "r2")
    with transaction(engine) as ses:
        ref = Reference.read(ses, local_today(), reference_key(ses, local_today()))
        assert place_open(ses, ref, today=local_today(), cause=m.Message(), batch=1) == (1, 0)
    assert [p.request_id for p in proposals(engine) if p.status == "proposed"] == ["r2"]
    assert request_row(engine, "r1").status == "open"
    assert place(engine) == (1, 0)  # then the one open again


def test_a_round_decides_for_its_time_and_leaves_the_rest_to_the_next(db_url: str) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    for rid in ("r1", "r2", "r3"):
        submit(engine, rid)
    with transaction(engine) as ses:
        ref = Reference.read(ses, local_today(), reference_key(ses, local_today()))
        assert place_open(ses, ref, today=local_today(), cause=m.Message(), budget_s=0.0) == (1, 0)
    assert [request_row(engine, r).status for r in ("r1", "r2", "r3")] == ["proposed", "open", "open"]
    assert place(engine) == (2, 0), "the rest in the next round"


def test_a_declined_request_is_placed_again_at_once_without_that_expert(db_url: str) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    place(engine)
    p = one(engine, "r1")
    handle(
        engine,
        h.on_declined,
        m.AssignmentDeclined(
            assignment_id=p.id,
            request_id="r1",
            unit_id="u1",
            expert_id=p.expert_id,
            contract_id=p.contract_id,
            reason="away",
        ),
    )
    assert request_row(engine, "r1").status == "open"
    assert place(engine) == (1, 0)
    assert one(engine, "r1").expert_id == "e1"


def test_a_placement_keeps_a_flexible_expert_for_what_only_it_can_do(db_url: str) -> None:
    # e0 is the cheaper, and the only one with information security; e1 does digital signatures
    # only. The day so far asked e0 for security work: the next signature goes to e1, and the
    # security request after it still finds e0 free (cheapest first, e0 took the signature and
    # the second security request found nobody).
    engine = matcher(
        db_url,
        [expert(0, capacity_hours=8, skills={"digital_signature": 3, "info_security": 4}), expert(1)],
        [contract(0), contract(1)],
    )
    submit(engine, "r0", skills={"info_security": 3}, priority=5)
    assert place(engine) == (1, 0)
    submit(engine, "r1")
    assert place(engine) == (1, 0)
    assert one(engine, "r1").expert_id == "e1"
    submit(engine, "r2", skills={"info_security": 3}, priority=5)
    assert place(engine) == (1, 0)
    assert one(engine, "r2").expert_id == "e0"


def test_the_sample_of_demand_is_read_again_with_the_copies(db_url: str) -> None:
    # A copy changed (the reference is read again): the requests seen before weigh as they did.
    engine = matcher(
        db_url,
        [expert(0, capacity_hours=8, skills={"digital_signature": 3, "info_security": 4}), expert(1)],
        [contract(0), contract(1)],
    )
    submit(engine, "r0", skills={"info_security": 3}, priority=5)
    with transaction(engine) as ses:
        ref = Reference.read(ses, local_today(), reference_key(ses, local_today()))
    assert ref.demand is not None and ref.demand.seen == {"r0"}
    assert ref.demand.pressure[ref.e_pos["e0"]] == 16 * 4 and ref.demand.pressure[ref.e_pos["e1"]] == 0


def test_a_plan_solved_before_a_placement_never_gives_the_same_hours_twice(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-plan's snapshot sees e0 free and gives it to r1; while it solves, the urgent r2
    arrives and is placed on e0 (4 of its 4 hours). The plan's write finds no room left for r1:
    r1 is not proposed (e0 would be booked 8 h), and is decided again at once."""
    engine = matcher(db_url, [expert(0, capacity_hours=4)], [contract(0)])
    submit(engine, "r1", priority=2)
    solve = planner.plan_for

    def placement_during_the_solve(snap: planner.Snapshot, **kw: Any) -> Plan:
        plan = solve(snap, **kw)
        assert [a.request for a in plan.assignments] == ["r1"]
        submit(engine, "r2", priority=5)
        assert place(engine) == (1, 1)  # r2 takes e0; r1 (still open) has no room left
        return plan

    monkeypatch.setattr(planner, "plan_for", placement_during_the_solve)
    assert planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message()) == 0
    live = [p for p in proposals(engine) if p.status == "proposed"]
    assert [(p.request_id, p.expert_id) for p in live] == [("r2", "e0")]
    assert sum(p.minutes for p in live) <= 240
    assert place(engine) == (0, 0)  # r1 was told why (at its placement) and keeps that reason
    row = request_row(engine, "r1")
    assert row.status == "unmatched" and row.reason_code == "expert_capacity"


def replan(engine) -> int:  # type: ignore[no-untyped-def]
    return planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message())


def test_a_replan_moves_a_pending_proposal_when_it_covers_more(db_url: str) -> None:
    """r1 (priority 1) was placed first on e0, the cheaper of two experts as scarce (the same
    room, and nothing seen yet that only e0 can do); the urgent r2 that only e0 can do arrived
    to find e0 full. The re-plan moves r1 to e1 and gives e0 to r2: 16 more covered for
    one move."""
    e0 = expert(0, capacity_hours=4, skills={"digital_signature": 3, "info_security": 3})
    engine = matcher(db_url, [e0, expert(1, capacity_hours=4)], [contract(0), contract(1)])
    submit(engine, "r1", priority=1)
    place(engine)
    first = one(engine, "r1")
    assert first.expert_id == "e0"
    submit(engine, "r2", priority=5, skills={"info_security": 2})
    assert place(engine) == (0, 1)
    replan(engine)
    assert one(engine, "r2").expert_id == "e0"
    assert one(engine, "r1").expert_id == "e1"
    assert [p.status for p in proposals(engine, "r1") if p.id == first.id] == ["withdrawn"]


def test_a_replan_leaves_pending_proposals_alone_when_moving_them_covers_nothing_more(db_url: str) -> None:
    """e0 (cheaper) was busy when r1 was placed on e1; freed since, it would be the better choice,
    but a move that covers nothing more is not worth a withdrawn proposal."""
    engine = matcher(db_url, [expert(0, capacity_hours=4), expert(1, capacity_hours=4)], [contract(0), contract(1)])
    submit(engine, "r0", priority=5)
    submit(engine, "r1", priority=3)
    place(engine)
    p0, p1 = one(engine, "r0"), one(engine, "r1")
    assert (p0.expert_id, p1.expert_id) == ("e0", "e1")
    with transaction(engine) as ses:  # r0 is cancelled: e0 is free
        h.cancel_request(ses, m.CancelRequest(request_id="r0", by="staff"), people.STAFF_ACTOR)
    replan(engine)
    assert one(engine, "r1").id == p1.id
    assert [e["assignment_id"] for e in outbox(engine, s.ASSIGNMENT_WITHDRAWN)] == []


def test_a_proposal_staff_may_be_reading_moves_only_for_enough_gain(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first test's situation, with r1's proposal old enough that staff may be reading it and
    a gain (16 for one move) below what such a move must bring: nothing moves."""
    monkeypatch.setattr(planner, "FRESH_S", 0.0)
    monkeypatch.setattr(planner, "MOVE_GAIN", 17)
    e0 = expert(0, capacity_hours=4, skills={"digital_signature": 3, "info_security": 3})
    engine = matcher(db_url, [e0, expert(1, capacity_hours=4)], [contract(0), contract(1)])
    submit(engine, "r1", priority=1)
    place(engine)
    first = one(engine, "r1")
    submit(engine, "r2", priority=5, skills={"info_security": 2})
    place(engine)
    replan(engine)
    assert one(engine, "r1").id == first.id and proposals(engine, "r2") == []
    monkeypatch.setattr(planner, "MOVE_GAIN", 16)  # now it pays
    replan(engine)
    assert one(engine, "r2").expert_id == "e0" and one(engine, "r1").expert_id == "e1"


def test_a_plan_is_written_a_chunk_of_requests_at_a_time_with_the_lock_free_in_between(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A country's plan moved thousands of proposals in one transaction and held SQLite's one
    write lock for seconds: every submission waited. Written a request at a time here
    (WRITE_CHUNK 1): between two chunks a commune's submission commits at once (SQLite's busy
    wait is set to nothing for it, so a lock still held fails it), and the urgent r2, whose
    expert e0 is freed only by r1's move in a later chunk, is kept from the placement meanwhile and
    written when the room is there."""
    monkeypatch.setattr(planner, "WRITE_CHUNK", 1)
    e0 = expert(0, capacity_hours=4, skills={"digital_signature": 3, "info_security": 3})
    engine = matcher(db_url, [e0, expert(1, capacity_hours=4)], [contract(0), contract(1)])
    submit(engine, "r1", priority=1)
    place(engine)
    submit(engine, "r2", priority=5, skills={"info_security": 2})
    assert place(engine) == (0, 1)
    reserved: set[str] = set()
    between: list[tuple[str, ...]] = []

    def meanwhile(_seconds: float) -> None:
        between.append(tuple(sorted(reserved)))
        with transaction(engine) as ses:
            if ses.get_bind().dialect.name == "sqlite":
                ses.connection().exec_driver_sql("PRAGMA busy_timeout = 0")
            people.call(
                h.submit_request, ses, m.SubmitRequest(request=request(f"n{len(between)}")), today=local_today()
            )

    monkeypatch.setattr(planner, "pause", meanwhile)
    planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message(), reserved=reserved)
    assert len(between) >= 2  # r2 (waits for room), r1 (moves and frees e0), then r2 again
    assert "r2" in between[0]  # its proposal is this write's to make: the placement leaves it
    assert reserved == set()
    assert one(engine, "r2").expert_id == "e0" and one(engine, "r1").expert_id == "e1"
    assert {request_row(engine, f"n{k}").status for k in range(1, len(between) + 1)} == {"open"}


def test_a_plans_write_holds_back_only_the_requests_it_reaches_next(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A country's re-plan writes thousands of requests at 20 a second; each was left to the write
    until its chunk, so 700 open requests waited minutes undecided. Now the placement leaves only
    the next RESERVE_CHUNKS chunks' requests to it, and decides the others meanwhile."""
    monkeypatch.setattr(planner, "WRITE_CHUNK", 1)
    monkeypatch.setattr(planner, "RESERVE_CHUNKS", 1, raising=False)
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    for rid in ("r1", "r2", "r3", "r4"):
        submit(engine, rid)  # open: the plan proposes for each, a chunk each
    reserved: set[str] = set()
    between: list[set[str]] = []
    monkeypatch.setattr(planner, "pause", lambda _s: between.append(set(reserved)))
    planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message(), reserved=reserved)
    assert len(between) == 3 and all(len(held) == 1 for held in between), between
    assert reserved == set()


def test_a_replan_splits_its_pins_without_comparing_them_pairwise(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Splitting the pins into approved work and hints compared pydantic models pairwise: on a
    country's 5,000 pending proposals, 25 s of the matcher's interpreter per re-plan, while
    submissions and placements waited. Now one pass: no pin is compared with another."""
    from services.matcher.solver import Plan as EnginePlan
    from shared.scenario import Pin

    engine = matcher(db_url, [expert(0, capacity_hours=200), expert(1, capacity_hours=200)], [contract(0), contract(1)])
    for k in range(12):
        submit(engine, f"r{k}")
    place(engine)
    compared = [0]
    real_eq = Pin.__eq__

    def counting(self: Pin, other: object) -> bool:
        compared[0] += 1
        return real_eq(self, other)

    monkeypatch.setattr(Pin, "__eq__", counting)
    with Session(engine) as ses:
        snap = planner.snapshot(ses, local_today())
    n = len(snap.scenario.pinned)
    assert n >= 10  # every contract's concurrent slots taken
    seen: list[int] = []

    def solver(sc: Scenario, **kw: Any) -> EnginePlan:
        seen.append(len(kw.get("hint") or []))
        return EnginePlan(status="feasible", assignments=[])

    planner.plan_for(snap, time_limit_s=1, workers=1, seed=0, solver=solver)
    assert seen == [n] and snap.scenario.pinned == [], "every pending proposal a hint, none pinned"
    assert compared[0] == 0


def test_a_placed_request_asking_for_a_trainee_carries_one_on_the_proposal(db_url: str) -> None:
    """e5 is a community member of r1's commune u1 (digital signatures at level 1, 10 h of time),
    e6 one of u2: r1 and r2 get e5 beside the expert (8 h of its 10), r3 finds no time left, r4
    did not ask. The event, the proposal row, the audit input and the live shortage report say so."""
    from services.matcher.gaps import gaps

    community = dict(kind="community", skills={"digital_signature": 1}, capacity_hours=10, home_unit="u1")
    engine = matcher(
        db_url, [expert(0), expert(5, **community), expert(6, **{**community, "home_unit": "u2"})], [contract(0)]
    )
    for rid in ("r1", "r2", "r3"):
        submit(engine, rid, trainee=True)
    submit(engine, "r4")
    assert place(engine) == (4, 0)
    got = {p.request_id: p for p in proposals(engine)}
    assert {rid: (p.expert_id, p.trainee_id, p.trainee_minutes) for rid, p in got.items()} == {
        "r1": ("e0", "e5", 240),
        "r2": ("e0", "e5", 240),
        "r3": ("e0", None, 0),
        "r4": ("e0", None, 0),
    }
    assert got["r1"].cost_vnd == got["r4"].cost_vnd  # no contract pays the trainee
    events = {e["request"]["id"]: e for e in outbox(engine, s.ASSIGNMENT_PROPOSED)}
    assert (events["r1"]["trainee_id"], events["r1"]["trainee_name"], events["r1"]["trainee_minutes"]) == (
        "e5",
        "Expert 5",
        240,
    )
    assert events["r4"]["trainee_id"] is None
    with Session(engine) as ses:
        run = ses.get(PlanRun, got["r2"].plan_id)
        assert run is not None
    sc = Scenario.model_validate(json.loads(run.scenario))
    made = Plan(
        status="feasible",
        assignments=[
            {
                "request": "r2",
                "expert": "e0",
                "contract": "c0",
                "mode": "remote",
                "travel_minutes": 0,
                "minutes": 240,
                "cost_vnd": 400_000,
                "trainee": "e5",
                "trainee_minutes": 240,
            }
        ],
    )
    assert validate(sc, made) == []
    [e5] = [e for e in sc.experts if e.id == "e5"]
    assert round((e5.capacity_hours - e5.committed_hours) * 60) == 360  # the time r1's trainee left it
    with Session(engine) as ses:
        report = gaps(ses, m.GetGaps(with_values=False), today=local_today(), offset_hours=7).data
    assert isinstance(report, m.GapsReport)
    [learnt] = report.learnt
    assert (
        learnt.skill,
        learnt.level,
        learnt.unit,
        learnt.trainees,
        learnt.assignments,
        learnt.hours,
    ) == ("digital_signature", 2, "u1", 1, 2, 8.0)
    # Time spent stays taken once the work is done (as the ledger keeps an expert's); a proposal
    # let go gives it back.
    with transaction(engine) as ses:
        ses.connection().exec_driver_sql(f"UPDATE proposal SET status = 'completed' WHERE id = '{got['r1'].id}'")
    submit(engine, "r5", trainee=True)
    place(engine)
    assert one(engine, "r5").trainee_id is None
    with transaction(engine) as ses:
        ses.connection().exec_driver_sql(f"UPDATE proposal SET status = 'withdrawn' WHERE id = '{got['r2'].id}'")
    submit(engine, "r6", trainee=True)
    place(engine)
    assert one(engine, "r6").trainee_id == "e5"


def test_a_replan_names_a_trainee_on_the_proposals_it_writes(db_url: str) -> None:
    community = dict(kind="community", skills={}, capacity_hours=10, home_unit="u1")
    engine = matcher(db_url, [expert(0), expert(5, **community)], [contract(0)])
    submit(engine, "r1", trainee=True)
    planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message())
    p = one(engine, "r1")
    assert (p.expert_id, p.trainee_id, p.trainee_minutes) == ("e0", "e5", 240)
