"""The matcher under concurrency: a re-plan never overwrites what changed since its snapshot, the
copy of contracts' decisions only moves forward, and pins that no longer fit never stop matching.

The use cases are called directly on the matcher's tables (SQLite and, when EXPERTSHARE_TEST_PG
is set, PostgreSQL); a re-plan is held between its snapshot and its writes by wrapping the solve.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, select

from services.matcher import handlers as h
from services.matcher import planner
from services.matcher.db import ExpertCopy, PlanRun, Proposal, RequestRow, create_schema
from shared import messages as m
from shared import subjects as s
from shared.bus import NotYet
from shared.clock import local_today
from shared.db import OutboxRow, make_engine, transaction
from tests import people
from tests.integration.services_harness import UNITS, contract, expert, request


def matcher(db_url: str, experts: list[dict[str, Any]], contracts: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    create_schema(engine)
    with transaction(engine) as ses:
        for u in UNITS:
            h.copy_unit(ses, m.UnitRegistered(unit=u))
        for e in experts:
            h.copy_expert(ses, m.ExpertRegistered(expert=e))
        for c in contracts:
            h.copy_contract(ses, m.ContractRegistered(contract=c, revision=1))
    return engine


def submit(engine, rid: str, **over: Any) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as ses:
        people.call(h.submit_request, ses, m.SubmitRequest(request=request(rid, **over)), today=local_today())


def replan(engine) -> int:  # type: ignore[no-untyped-def]
    return planner.replan(engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message())


def proposals(engine, rid: str | None = None) -> list[Proposal]:  # type: ignore[no-untyped-def]
    with Session(engine) as ses:
        stmt = select(Proposal).order_by(Proposal.created_at, Proposal.id)
        return [p for p in ses.exec(stmt) if rid in (None, p.request_id)]


def one(engine, rid: str, status: str = "proposed") -> Proposal:  # type: ignore[no-untyped-def]
    found = [p for p in proposals(engine, rid) if p.status == status]
    assert len(found) == 1, [(p.id, p.status) for p in proposals(engine, rid)]
    return found[0]


def decision(p: Proposal) -> dict[str, Any]:
    return dict(
        assignment_id=p.id, request_id=p.request_id, unit_id="u1", expert_id=p.expert_id, contract_id=p.contract_id
    )


def approved(p: Proposal) -> m.AssignmentApproved:
    return m.AssignmentApproved(
        **decision(p),
        by="staff",
        mode=p.mode,
        hours=p.minutes / 60,
        deadline=local_today(),
        reserved_minutes=p.minutes,
        reserved_vnd=p.cost_vnd,
    )


def handle(engine, fn, evt) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as ses:
        fn(ses, evt)


def status_of(engine, aid: str) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as ses:
        return ses.get(Proposal, aid).status


def outbox(engine, subject: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with Session(engine) as ses:
        return [json.loads(r.payload) for r in ses.exec(select(OutboxRow).where(OutboxRow.subject == subject))]


def withdrawals(engine) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["assignment_id"] for e in outbox(engine, s.ASSIGNMENT_WITHDRAWN)]


def test_an_approval_landing_during_a_replan_is_not_overwritten(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    replan(engine)
    p1 = one(engine, "r1")
    # The contract of p1 is suspended (the matcher lets its pending proposals go) while contracts
    # has just approved p1: the approval lands after the re-plan's snapshot, before its writes.
    c = contract(int(p1.contract_id[1:]))
    handle(
        engine,
        h.copy_contract_status,
        m.ContractStatusChanged(
            contract_id=c["id"],
            expert_id=c["expert"],
            status="suspended",
            previous="active",
            by="staff",
            revision=2,
            contract=c,
        ),
    )
    solve = planner.plan_for

    def approval_lands_during_the_solve(snap: planner.Snapshot, **kw: Any) -> Any:
        assert [p.status for p in snap.pins.values()] == ["proposed"]
        handle(engine, h.on_approved, approved(p1))
        return solve(snap, **kw)

    monkeypatch.setattr(planner, "plan_for", approval_lands_during_the_solve)
    replan(engine)
    monkeypatch.setattr(planner, "plan_for", solve)
    replan(engine)  # what the approval's event schedules: the slot is not proposed again
    assert [(p.id, p.status) for p in proposals(engine, "r1")] == [(p1.id, "approved")]
    assert withdrawals(engine) == []
    with Session(engine) as ses:
        assert ses.get(RequestRow, "r1").status == "approved"


def test_events_out_of_order_leave_the_status_contracts_has(db_url: str) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    for rid in ("r1", "r2"):
        submit(engine, rid)
    replan(engine)
    p1, p2 = one(engine, "r1"), one(engine, "r2")
    # r1: accepted before approved (redelivered after a restart), then completed, then late copies.
    handle(engine, h.on_accepted, m.AssignmentAccepted(**decision(p1)))
    handle(engine, h.on_approved, approved(p1))
    assert status_of(engine, p1.id) == "accepted"
    done = m.RequestCompleted(
        request_id="r1",
        unit_id="u1",
        by="commune",
        assignments=[m.AssignmentDecision(**decision(p1))],
        completed=[p1.id],
    )
    handle(engine, h.on_completed, done)
    handle(engine, h.on_approved, approved(p1))
    handle(engine, h.on_accepted, m.AssignmentAccepted(**decision(p1)))
    assert status_of(engine, p1.id) == "completed"
    # r2: completed while its acceptance has not arrived here yet: completed, as contracts says.
    handle(engine, h.on_approved, approved(p2))
    handle(
        engine,
        h.on_completed,
        m.RequestCompleted(
            request_id="r2",
            unit_id="u1",
            by="commune",
            assignments=[m.AssignmentDecision(**decision(p2))],
            completed=[p2.id],
        ),
    )
    handle(engine, h.on_accepted, m.AssignmentAccepted(**decision(p2)))
    assert status_of(engine, p2.id) == "completed"


def test_contracts_approval_wins_over_the_matchers_withdrawal(db_url: str) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    replan(engine)
    p1 = one(engine, "r1")
    with transaction(engine) as ses:  # the matcher let p1 go while staff were approving it
        planner._withdraw(ses, ses.get(Proposal, p1.id), m.Message(), "the plan changed under it")
    replan(engine)
    p2 = one(engine, "r1")
    handle(engine, h.on_approved, approved(p1))
    assert status_of(engine, p1.id) == "approved"
    assert status_of(engine, p2.id) == "withdrawn"  # one live proposal per slot; contracts is told
    assert withdrawals(engine) == [p1.id, p2.id]


def test_overcommitted_pins_keep_approved_work_and_the_rest_is_planned(db_url: str) -> None:
    # e0 alone does digital signatures, e1 alone office IT.
    e0, e1 = expert(0), expert(1, skills={"office_it": 3})
    engine = matcher(db_url, [e0, e1], [contract(0), contract(1)])
    submit(engine, "r1")
    submit(engine, "r2", skills={"office_it": 2})
    replan(engine)
    p1, p2 = one(engine, "r1"), one(engine, "r2")
    assert (p1.expert_id, p2.expert_id) == ("e0", "e1")
    handle(engine, h.on_approved, approved(p1))
    handle(
        engine,
        h.copy_balance,
        m.BalanceChanged(
            contract_id="c0",
            expert_id="e0",
            hours_used=4,
            budget_used_vnd=p1.cost_vnd,
            active_assignments=1,
            expert_committed_hours=4,
            revision=1,
            expert_revision=2,
            counted=[p1.id],
        ),
    )
    # e0's availability drops below the 4 h already approved (from before that was refused).
    handle(engine, h.copy_expert, m.ExpertRegistered(expert={**e0, "capacity_hours": 2}))
    submit(engine, "r3", skills={"office_it": 2})
    replan(engine)
    assert status_of(engine, p1.id) == "approved"
    assert one(engine, "r2").id == p2.id  # staff's pending proposal for an unaffected request stays
    assert one(engine, "r3").expert_id == "e1"  # new requests are still planned
    with Session(engine) as ses:
        run = ses.exec(select(PlanRun).order_by(PlanRun.id.desc())).first()  # type: ignore[union-attr]
        assert any("expert e0" in note and "over the availability" in note for note in run.overcommitted or [])
    [told] = outbox(engine, s.PLAN_OVERCOMMITTED)  # staff hear of it
    assert told["notes"] == run.overcommitted
    # ... and the notes about rules travel as data too, for staff to read in their language.
    assert [(b["rule"], b["expert"]) for b in told["broken"]] == [("held_over_capacity", "e0")]
    assert told["broken"][0]["detail"] == {"over": 2.0, "capacity": 2.0} and told["remarks"] == []
    submit(engine, "r4", skills={"office_it": 2})
    replan(engine)  # the same over-commitment, met again: not told again
    assert one(engine, "r4").expert_id == "e1" and len(outbox(engine, s.PLAN_OVERCOMMITTED)) == 1


def test_a_pending_proposal_a_balance_made_impossible_is_withdrawn_alone(db_url: str) -> None:
    e1, e2 = expert(1, skills={"office_it": 3}), expert(2)
    engine = matcher(db_url, [e1, e2], [contract(1), contract(2)])
    submit(engine, "r1", skills={"office_it": 2})
    submit(engine, "r2")
    replan(engine)
    p1, p2 = one(engine, "r1"), one(engine, "r2")
    assert (p1.contract_id, p2.contract_id) == ("c1", "c2")
    # Hours logged elsewhere leave c1 38 of 40 h used: p1 (4 h) could not be approved any more.
    handle(
        engine,
        h.copy_balance,
        m.BalanceChanged(
            contract_id="c1",
            expert_id="e1",
            hours_used=38,
            budget_used_vnd=0,
            active_assignments=1,
            expert_committed_hours=38,
            revision=1,
        ),
    )
    replan(engine)
    assert status_of(engine, p1.id) == "withdrawn" and p1.id in withdrawals(engine)
    assert one(engine, "r2").id == p2.id  # the other request's proposal stays


def test_the_database_holds_one_live_proposal_per_slot(db_url: str) -> None:
    engine = matcher(db_url, [expert(0), expert(1)], [contract(0), contract(1)])
    submit(engine, "r1")
    replan(engine)
    p1 = one(engine, "r1")

    def twin(aid: str, status: str) -> Proposal:
        return Proposal(
            id=aid,
            request_id="r1",
            slot=0,
            expert_id="e1",
            contract_id="c1",
            mode="remote",
            minutes=240,
            cost_vnd=0,
            status=status,
        )

    with pytest.raises(Exception, match="(?i)unique"), transaction(engine) as ses:
        ses.add(twin("a-twin", "proposed"))
    handle(engine, h.on_approved, approved(p1))
    with transaction(engine) as ses:  # a withdrawn or finished one does not count
        ses.add(twin("a-gone", "withdrawn"))


def test_a_balance_waits_for_its_expert_so_a_newer_total_is_never_lost(db_url: str) -> None:
    """The expert's copy arrives on a subject of its own, after the contract's (under load): the
    balance waits for it; applied without it, its total was lost and an older one taken later."""
    engine = matcher(db_url, [expert(0)], [contract(0)])
    with transaction(engine) as ses:
        ses.delete(ses.get(ExpertCopy, "e0"))
    newer = m.BalanceChanged(
        contract_id="c0",
        expert_id="e0",
        hours_used=10,
        budget_used_vnd=0,
        active_assignments=0,
        expert_committed_hours=10,
        revision=1,
        expert_revision=50,
    )
    with pytest.raises(NotYet, match="balance for expert 'e0', not registered here yet"):
        handle(engine, h.copy_balance, newer)
    handle(engine, h.copy_expert, m.ExpertRegistered(expert=expert(0)))
    handle(engine, h.copy_balance, newer)  # delivered again
    handle(
        engine,
        h.copy_balance,
        newer.model_copy(
            update={"contract_id": "c0", "revision": 2, "expert_committed_hours": 4.0, "expert_revision": 49}
        ),
    )
    with Session(engine) as ses:
        e0 = ses.get(ExpertCopy, "e0")
        assert e0 is not None and (e0.committed_hours, e0.booking_revision) == (10.0, 50)
