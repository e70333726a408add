"""One slot, one expert, one charge in the contracts service, under concurrency.

Each race is reproduced deterministically (`tests.integration.race`): the first writer is held at
the ledger call that matters, after it has read the assignment; the second runs until it is done
or waits for the first's lock; then the first goes on. Runs on SQLite and, when
EXPERTSHARE_TEST_PG is set, on PostgreSQL (where the races happened).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from services.contracts import assignments as asg
from services.contracts import handlers as h
from services.contracts import ledger, reference, work
from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, LedgerLine
from shared import messages as m
from shared.bus import Rejected, run_once
from shared.db import transaction
from shared.scenario import Request
from tests import people
from tests.integration.race import Hold, race
from tests.integration.test_ledger import EXPERT, TODAY, UNIT, contract, setup


def propose(
    engine,
    aid: str,
    rid: str,
    *,
    slot: int = 0,
    hours: float = 3,
    expert: str = "e1",  # type: ignore[no-untyped-def]
    contract_id: str = "c1",
) -> None:
    req = request(rid, hours)
    with transaction(engine) as s:
        h.record_proposal(
            issuers=[],
            session=s,
            evt=m.AssignmentProposed(
                assignment_id=aid,
                request=req,
                slot=slot,
                expert_id=expert,
                expert_name=expert,
                contract_id=contract_id,
                mode="remote",
                travel_minutes=0,
                minutes=round(hours * 60),
                cost_vnd=0,
            ),
        )


def request(rid: str, hours: float = 3) -> Request:
    """A request of two slots."""
    return Request(
        id=rid,
        unit="u1",
        title="help",
        mode="remote",
        hours=hours,
        priority=3,
        deadline=dt.date(2027, 1, 1),
        slots=[{"skills": {"office_it": 1}, "hours": hours}] * 2,
    )


def do(engine, fn, cmd):  # type: ignore[no-untyped-def]
    return run_once(engine, cmd.event_id, "test", lambda s: people.call(fn, s, cmd))


def approve(engine, aid: str):  # type: ignore[no-untyped-def]
    return do(engine, h.approve, m.ApproveAssignment(assignment_id=aid, by="staff"))


def lines(engine, kind: str, aid: str | None = None) -> list[LedgerLine]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        stmt = select(LedgerLine).where(LedgerLine.kind == kind)
        if aid:
            stmt = stmt.where(LedgerLine.assignment_id == aid)
        return list(s.exec(stmt))


def assert_ledger_equals_its_lines(engine) -> None:  # type: ignore[no-untyped-def]
    """Each contract's and assignment's figures are the sum of their ledger lines."""
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        all_lines = list(s.exec(select(LedgerLine)))
        sign = {"reserve": 1, "release": -1, "consume": -1}
        consumed = sum(x.minutes for x in all_lines if x.kind == "consume")
        assert c.consumed_minutes == consumed
        assert c.reserved_minutes == sum(sign[x.kind] * x.minutes for x in all_lines)
        for a in s.exec(select(AssignmentRow)):
            mine = [x for x in all_lines if x.assignment_id == a.id]
            assert a.logged_minutes == sum(x.minutes for x in mine if x.kind == "consume"), a.id
        e = s.get(ExpertRow, "e1")
        assert e.booked_minutes == sum(x.minutes for x in all_lines if x.kind == "reserve") - sum(
            x.minutes for x in all_lines if x.kind == "release"
        )


def test_two_approvals_of_one_proposal_at_once_reserve_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = setup(db_url, n=1, hours=3)
    hold = Hold(monkeypatch, ledger, "reserve")
    out = race(engine, hold, lambda: approve(engine, "a0"), lambda: approve(engine, "a0"))
    assert out["first"].ok, out
    assert isinstance(out["second"], Rejected) and "a0 is approved" in out["second"].message, out
    assert len(lines(engine, "reserve")) == 1
    with Session(engine) as s:
        assert s.get(ContractRow, "c1").reserved_minutes == 180 and s.get(ContractRow, "c1").active_count == 1
    assert_ledger_equals_its_lines(engine)


def test_two_approvals_of_two_proposals_of_one_slot_at_once_approve_one(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = setup(db_url, n=0, hours=3)
    propose(engine, "a1", "r1")
    propose(engine, "a2", "r1")  # the matcher proposed the slot again (a plan from a stale snapshot)
    hold = Hold(monkeypatch, ledger, "reserve")
    out = race(engine, hold, lambda: approve(engine, "a1"), lambda: approve(engine, "a2"))
    assert out["first"].ok, out
    assert isinstance(out["second"], Rejected), out
    assert "slot 0 of request r1 is already taken: assignment a1" in out["second"].message
    assert [x.assignment_id for x in lines(engine, "reserve")] == ["a1"]
    propose(engine, "a3", "r1", slot=1)  # another slot of the request is free to approve
    assert approve(engine, "a3").ok


def test_the_database_holds_one_approved_assignment_per_slot(db_url: str) -> None:
    engine = setup(db_url, n=0, hours=3)
    propose(engine, "a1", "r1")
    propose(engine, "a2", "r1")
    assert approve(engine, "a1").ok
    with pytest.raises(Exception, match="(?i)unique"), transaction(engine) as s:
        a = s.get(AssignmentRow, "a2")
        a.status = "approved"
        s.add(a)


def test_two_log_hours_at_once_are_each_counted_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = setup(db_url, n=1, hours=3)
    approve(engine, "a0")
    do(engine, h.accept, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
    hold = Hold(monkeypatch, ledger, "consume")

    def log() -> m.Reply:
        return do(engine, work.log_hours, m.LogHours(assignment_id="a0", expert_id="e1", hours=1))

    out = race(engine, hold, log, log)
    assert out["first"].ok and out["second"].ok, out
    with Session(engine) as s:
        a = s.get(AssignmentRow, "a0")
        assert (a.logged_minutes, a.reserved_minutes) == (120, 180)
        assert s.get(ContractRow, "c1").consumed_minutes == 120
    assert [x.minutes for x in lines(engine, "consume")] == [60, 60]
    assert_ledger_equals_its_lines(engine)


def test_two_completions_at_once_release_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = setup(db_url, n=1, hours=3)
    approve(engine, "a0")
    do(engine, h.accept, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
    do(engine, work.log_hours, m.LogHours(assignment_id="a0", expert_id="e1", hours=1))
    hold = Hold(monkeypatch, ledger, "release")

    def complete() -> m.Reply:
        return do(engine, work.complete_request, m.CompleteRequest(request_id="r0", by="commune"))

    out = race(engine, hold, complete, complete)
    assert out["first"].ok, out
    assert isinstance(out["second"], Rejected) and "no accepted assignment" in out["second"].message, out
    assert [x.minutes for x in lines(engine, "release")] == [120]
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        assert (c.reserved_minutes, c.active_count) == (0, 0)
        assert s.get(ExpertRow, "e1").booked_minutes == 60
    assert_ledger_equals_its_lines(engine)


def test_writers_lock_in_one_order_and_never_deadlock_on_the_audit_head(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approval under c2 holds c2 and waits for the audit head; a completion of a request with
    work under c1 and c2 must not hold the head while it waits for c2 (the deadlock of issue 12)."""
    engine = setup(db_url, n=0, hours=3, hours_cap=100)
    with transaction(engine) as s:
        people.call(
            reference.register_reference,
            s,
            m.RegisterReference(
                experts=[{**EXPERT, "id": "e2", "name": "Expert 2"}],
                contracts=[contract(id="c2", expert="e2", hours_cap=100)],
            ),
            today=TODAY,
        )
    propose(engine, "a1", "r1", slot=0)
    propose(engine, "a2", "r1", slot=1, expert="e2", contract_id="c2")
    propose(engine, "b", "r2", expert="e2", contract_id="c2")
    for aid, eid in (("a1", "e1"), ("a2", "e2")):
        approve(engine, aid)
        do(engine, h.accept, m.AcceptAssignment(assignment_id=aid, expert_id=eid))
    hold = Hold(monkeypatch, asg, "record")  # the approval of b, its ledger rows moved, before its trail entry
    out = race(
        engine,
        hold,
        lambda: approve(engine, "b"),
        lambda: do(engine, work.complete_request, m.CompleteRequest(request_id="r1", by="commune")),
    )
    assert isinstance(out["first"], m.Reply) and out["first"].ok, out
    assert isinstance(out["second"], m.Reply) and out["second"].ok, out
    with Session(engine) as s:
        assert [s.get(AssignmentRow, x).status for x in ("a1", "a2", "b")] == ["completed", "completed", "approved"]
        assert s.get(ContractRow, "c2").reserved_minutes == 180
    with Session(engine) as s:
        assert people.verify_audit(s) == []


def test_an_approval_after_completion_is_refused(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=3)
    propose(engine, "a-late", "r0", slot=0)  # proposed again while a0 waits (issue 12: r35, r90)
    approve(engine, "a0")
    do(engine, h.accept, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
    do(engine, work.complete_request, m.CompleteRequest(request_id="r0", by="commune"))
    propose(engine, "a-after", "r0", slot=0)  # and once more after the completion
    for aid in ("a-late", "a-after"):
        with pytest.raises(Rejected) as err:
            approve(engine, aid)
        assert "is withdrawn" in err.value.message or "r0 is already completed" in err.value.message
    assert [x.assignment_id for x in lines(engine, "reserve")] == ["a0"]


def test_an_approval_after_cancellation_is_refused(db_url: str) -> None:
    engine = setup(db_url, n=0, hours=3)
    propose(engine, "a1", "r1")
    with transaction(engine) as s:
        work.copy_request(s, m.RequestSubmitted(request=request("r1"), by="commune"))
        work.cancel_request(s, m.RequestCancelled(request_id="r1", unit_id="u1", by="commune"))
    propose(engine, "a2", "r1", slot=1)  # a proposal the matcher made before it heard of the cancellation
    for aid, why in (("a1", "a1 is withdrawn"), ("a2", "r1 is already cancelled")):
        with pytest.raises(Rejected) as err:
            approve(engine, aid)
        assert why in err.value.message
    assert lines(engine, "reserve") == []


def test_a_refused_command_repeated_with_its_id_gets_the_same_answer(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=12)  # the cap is 10 h: refused
    cmd = m.ApproveAssignment(assignment_id="a0", by="staff")

    def once() -> m.Reply | None:
        return run_once(
            engine, cmd.event_id, "approve", lambda s: people.call(h.approve, s, cmd), remember_refusal=True
        )

    with pytest.raises(Rejected) as first:
        once()
    assert "hours cap 10 h" in first.value.message
    with transaction(engine) as s:  # room is made; the same command again is not a new decision
        people.call(
            reference.register_reference,
            s,
            m.RegisterReference(units=[UNIT], experts=[EXPERT], contracts=[contract(hours_cap=20)]),
            today=TODAY,
        )
    again = once()
    assert again is not None and not again.ok and again.error == first.value.message
    assert again.field_errors[0].field == "assignment_id"
    assert lines(engine, "reserve") == []
    assert approve(engine, "a0").ok  # a new command (a new id) is decided afresh


def test_availability_below_approved_hours_is_refused_with_the_numbers(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=8, hours_cap=100)
    approve(engine, "a0")
    lowered = {**EXPERT, "capacity_hours": 5}
    with pytest.raises(Rejected) as err, transaction(engine) as s:
        people.call(reference.register_reference, s, m.RegisterReference(experts=[lowered]), today=TODAY)
    assert err.value.field == "experts[0].capacity_hours"
    assert "availability 5 h is below the 8 h already approved" in err.value.message
    with transaction(engine) as s:  # down to the approved hours is fine
        people.call(
            reference.register_reference, s, m.RegisterReference(experts=[{**EXPERT, "capacity_hours": 8}]), today=TODAY
        )
    with Session(engine) as s:
        assert s.get(ExpertRow, "e1").capacity_minutes == 480
