"""The ledger never overbooks: concurrent approvals race for the last hours of one contract.

Runs on SQLite and, when EXPERTSHARE_TEST_PG is set, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlmodel import Session, select

from services.contracts import handlers as h
from services.contracts import reference, work
from services.contracts.db import AssignmentRow, ContractRow, LedgerLine, create_schema
from shared import messages as m
from shared.bus import Rejected, run_once
from shared.db import OutboxRow, make_engine, transaction
from shared.scenario import Request
from tests import people

TODAY = dt.date(2026, 6, 1)
UNIT = {"id": "u1", "name": "Xã Thượng Lâm", "province": "Tuyên Quang", "network": "ok"}
EXPERT = {
    "id": "e1",
    "name": "Expert 1",
    "home_unit": "u1",
    "kind": "contract",
    "skills": {"office_it": 3},
    "remote": True,
    "onsite": True,
    "max_travel_minutes": 60,
    "capacity_hours": 1000,
}


def contract(**over: object) -> dict[str, object]:
    base = {
        "id": "c1",
        "expert": "e1",
        "kind": "project",
        "hourly_rate_vnd": 100_000,
        "hours_cap": 10,
        "hours_used": 0,
        "budget_cap_vnd": None,
        "budget_used_vnd": 0,
        "max_concurrent": 100,
        "start": "2026-01-01",
        "end": "2027-12-31",
        "scope_units": None,
    }
    return {**base, **over}


def setup(db_url: str, n: int, hours: float, **contract_over: object):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    create_schema(engine)
    with transaction(engine) as s:
        people.call(
            reference.register_reference,
            s,
            m.RegisterReference(units=[UNIT], experts=[EXPERT], contracts=[contract(**contract_over)]),
            today=TODAY,
        )
        for i in range(n):
            req = Request(
                id=f"r{i}",
                unit="u1",
                title="help",
                skills={"office_it": 1},
                mode="remote",
                hours=hours,
                priority=3,
                deadline=dt.date(2027, 1, 1),
            )
            h.record_proposal(
                issuers=[],
                session=s,
                evt=m.AssignmentProposed(
                    assignment_id=f"a{i}",
                    request=req,
                    expert_id="e1",
                    expert_name="Expert 1",
                    contract_id="c1",
                    mode="remote",
                    travel_minutes=0,
                    minutes=round(hours * 60),
                    cost_vnd=0,
                ),
            )
    return engine


def race(engine, n: int) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    won, refused = [], []
    barrier = threading.Barrier(n)

    def approve(i: int) -> None:
        cmd = m.ApproveAssignment(assignment_id=f"a{i}", by="staff")
        barrier.wait()
        try:
            run_once(engine, cmd.event_id, "approve", lambda s: people.call(h.approve, s, cmd))
            won.append(f"a{i}")
        except Rejected as err:
            refused.append(err.message)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused


def test_concurrent_approvals_never_break_the_hours_cap(db_url: str) -> None:
    engine = setup(db_url, n=8, hours=3)  # cap 10 h: exactly three 3-hour approvals fit
    won, refused = race(engine, 8)
    assert len(won) == 3 and len(refused) == 5
    assert all("hours cap 10 h" in r and "this assignment needs 3 h" in r for r in refused), refused
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        assert c.reserved_minutes == 3 * 180 and c.active_count == 3
        approved = s.exec(select(AssignmentRow).where(AssignmentRow.status == "approved")).all()
        assert sorted(a.id for a in approved) == sorted(won)
        lines = s.exec(select(LedgerLine)).all()
        assert sum(line.minutes for line in lines) == 540


def test_concurrent_approvals_never_break_the_budget_cap(db_url: str) -> None:
    # 2 h at 100.000 ₫ = 200.000 ₫ each; a 500.000 ₫ budget holds two of them.
    engine = setup(db_url, n=6, hours=2, hours_cap=100, budget_cap_vnd=500_000)
    won, refused = race(engine, 6)
    assert len(won) == 2
    assert all("budget cap 500.000 ₫" in r and "100.000 ₫ left" in r for r in refused), refused


def test_concurrency_cap_holds(db_url: str) -> None:
    engine = setup(db_url, n=5, hours=1, max_concurrent=2)
    won, refused = race(engine, 5)
    assert len(won) == 2
    assert all("allows 2 concurrent" in r for r in refused)


def test_refused_approval_leaves_nothing_half_written(db_url: str) -> None:
    engine = setup(db_url, n=2, hours=6)
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="staff"))
    outbox_before = _count(engine, OutboxRow)
    with pytest.raises(Rejected), transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a1", by="staff"))
    with Session(engine) as s:
        assert s.get(AssignmentRow, "a1").status == "proposed"
        assert s.get(ContractRow, "c1").reserved_minutes == 360
    assert _count(engine, OutboxRow) == outbox_before


def test_full_lifecycle_reserves_consumes_and_releases(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=4)
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="staff"))
        people.call(h.accept, s, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
        people.call(work.log_hours, s, m.LogHours(assignment_id="a0", expert_id="e1", hours=1.5))
    with transaction(engine) as s:
        people.call(work.complete_request, s, m.CompleteRequest(request_id="r0", by="commune"))
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        assert (c.reserved_minutes, c.consumed_minutes, c.consumed_vnd, c.active_count) == (0, 90, 150_000, 0)
        assert s.get(AssignmentRow, "a0").status == "completed"


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return len(s.exec(select(model)).all())
