"""Every reply of the contracts service is its endpoint's read model (issue 18): what a handler
answers travels as JSON and is read back as the same model, a stored answer replayed by
`run_once` reads as it did, and a reply written by the code before the models still parses."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlmodel import Session

from services.contracts import gaps, lifecycle, reference, reports, work
from services.contracts import handlers as h
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared.bus import fit_reply, run_once
from shared.db import transaction
from shared.endpoints import Endpoint
from shared.security import credentials
from tests import people
from tests.integration.test_ledger import TODAY, UNIT, setup

CONTRACTS = [e for e in E.all_endpoints() if e.owner == "contracts"]


def _travels(endpoint: Endpoint[Any, Any], reply: m.Reply[Any]) -> Any:
    """The reply as the caller gets it (JSON, read back unparametrised), read as the endpoint's
    model: the same model, and the same JSON again."""
    assert reply.ok, reply.error
    assert isinstance(reply.data, endpoint.reply), (endpoint.subject, type(reply.data))
    wire = reply.model_dump_json()
    view = rpc.read(endpoint, m.Reply.model_validate_json(wire))
    assert view == reply.data
    assert view.model_dump(mode="json") == json.loads(wire)["data"]
    return view


def test_no_contracts_endpoint_answers_an_untyped_dict() -> None:
    assert len(CONTRACTS) == 17
    for endpoint in CONTRACTS:
        assert endpoint.reply.model_config.get("extra") != "allow", endpoint.subject
        assert endpoint.reply.model_config.get("frozen"), endpoint.subject
    assert E.AUDIT_VERIFY.request is m.VerifyAudit and E.CONTRACTS_STATUS.request is m.GetContractsStatus


def test_every_command_reply_travels_as_its_model(db_url: str) -> None:
    engine = setup(db_url, n=3, hours=2)
    with transaction(engine) as s:
        batch = _travels(
            E.ASSIGNMENTS_DECIDE,
            people.call(
                h.decide_batch, s, m.DecideAssignments(assignment_ids=["a0", "a9"], decision="approve", by="B")
            ),
        )
        assert (batch.decided, batch.refused) == (1, 1)
        assert batch.results[0].reserved_minutes == 120 and batch.results[1].error
        one = _travels(E.ASSIGNMENT_APPROVE, people.call(h.approve, s, m.ApproveAssignment(assignment_id="a1", by="B")))
        assert (one.status, one.reserved_vnd) == ("approved", 200_000)
        no = _travels(E.ASSIGNMENT_REJECT, people.call(h.reject, s, m.RejectAssignment(assignment_id="a2", by="B")))
        assert no.status == "rejected"
        yes = _travels(
            E.ASSIGNMENT_ACCEPT, people.call(h.accept, s, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
        )
        assert yes.status == "accepted"
        out = _travels(
            E.ASSIGNMENT_DECLINE, people.call(h.decline, s, m.DeclineAssignment(assignment_id="a1", expert_id="e1"))
        )
        assert (out.status, out.released_minutes) == ("declined", 120)
        logged = _travels(
            E.HOURS_LOG, people.call(work.log_hours, s, m.LogHours(assignment_id="a0", expert_id="e1", hours=3))
        )
        assert (logged.logged_minutes, logged.cost_vnd, logged.flagged_minutes) == (120, 200_000, 60)
        extra = _travels(
            E.EXTRA_HOURS_DECIDE,
            people.call(work.decide_extra, s, m.DecideExtraHours(assignment_id="a0", approve=False, by="B")),
        )
        assert (extra.approved_minutes, extra.refused_minutes) == (0, 60)
        done = _travels(
            E.REQUEST_COMPLETE, people.call(work.complete_request, s, m.CompleteRequest(request_id="r0", by="commune"))
        )
        assert (done.request_id, done.completed) == ("r0", 1)
        moved = _travels(
            E.CONTRACT_STATUS_CHANGE,
            people.call(
                lifecycle.change_status,
                s,
                m.ChangeContractStatus(contract_id="c1", to="suspended", by="B", reason="audit"),
                today=TODAY,
            ),
        )
        assert (moved.status, moved.cancelled_assignments) == ("suspended", 0)
        expired = _travels(
            E.CONTRACTS_EXPIRE,
            people.call(lifecycle.expire_due, s, m.ExpireContracts(today=dt.date(2028, 1, 1)), today=TODAY),
        )
        assert (expired.expired, expired.today) == (["c1"], dt.date(2028, 1, 1))
        registered = _travels(
            E.REFERENCE_REGISTER,
            people.call(
                reference.register_reference,
                s,
                m.RegisterReference(units=[m.Unit.model_validate(UNIT)]),
                today=TODAY,
            ),
        )
        assert (registered.units, registered.experts) == (1, 0)


def test_every_query_reply_travels_as_its_model(db_url: str) -> None:
    engine = setup(db_url, n=2, hours=2)
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="B"))
    with Session(engine) as s:
        status = _travels(E.CONTRACTS_STATUS, h.status(s, m.GetContractsStatus()))
        assert [a.status for a in status.assignments] == ["approved", "proposed"]
        assert status.contracts[0].hours_reserved == 2 and status.counts.assignments == 2
        trail = _travels(E.AUDIT, h.audit_trail(s, m.GetAudit(subject="assignment:a0")))
        assert [e.action for e in trail.entries] == ["propose", "approve"]
        verified = _travels(E.AUDIT_VERIFY, h.audit_verify(s, m.VerifyAudit(), issuers=credentials.issuer_keys()))
        assert verified.intact and verified.entries == 4
        for kind in ("contracts", "units", "experts"):
            report = _travels(E.REPORT, reports.report(s, m.GetReport(kind=kind), today=TODAY))  # type: ignore[arg-type]
            assert len(report.rows) == 1 and report.today == TODAY
        assert isinstance(report.rows[0], m.ExpertReport) and report.rows[0].assignments_approved == 1
        ref = _travels(E.REFERENCE, reference.reference(s, m.GetReference()))
        assert [c.status for c in ref.contracts] == ["active"] and ref.experts[0].id == "e1"
        ledger = _travels(E.CONTRACTS_GAPS, gaps.gaps(s, m.GetGaps(), today=TODAY, offset_hours=7))
        assert ledger.contracts[0].id == "c1"


def test_a_stored_answer_replayed_reads_as_the_model(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=2)
    cmd = m.ApproveAssignment(assignment_id="a0", by="B")
    first = run_once(engine, cmd.event_id, E.ASSIGNMENT_APPROVE.subject, lambda s: people.call(h.approve, s, cmd))
    again = run_once(engine, cmd.event_id, E.ASSIGNMENT_APPROVE.subject, lambda s: people.call(h.approve, s, cmd))
    assert first is not None and again is not None and isinstance(again.data, dict)
    assert rpc.read(E.ASSIGNMENT_APPROVE, again) == first.data


def test_a_reply_written_before_the_models_still_parses() -> None:
    old_batch = {
        "decision": "approve",
        "decided": 1,
        "refused": 1,
        "results": [
            {"assignment_id": "a0", "ok": True, "status": "approved", "reserved_minutes": 60, "reserved_vnd": 1},
            {"assignment_id": "a1", "ok": False, "error": "assignment a1 is approved"},
        ],
    }
    batch = rpc.read(E.ASSIGNMENTS_DECIDE, m.Reply(ok=True, data=old_batch))
    assert batch.results[1].error == "assignment a1 is approved" and batch.results[1].reserved_minutes is None
    old_extra = {"assignment_id": "a0", "approved_minutes": 30, "cost_vnd": 50_000}
    assert rpc.read(E.EXTRA_HOURS_DECIDE, m.Reply(ok=True, data=old_extra)).refused_minutes == 0
    old_expired = {"expired": ["c1"], "today": "2026-06-01"}
    assert rpc.read(E.CONTRACTS_EXPIRE, m.Reply(ok=True, data=old_expired)).today == dt.date(2026, 6, 1)


def test_a_reply_too_large_for_a_message_is_cut_and_still_its_model(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=2)
    with Session(engine) as s:
        one = h.status(s, m.GetContractsStatus()).data
    assert one is not None
    many = one.model_copy(update={"assignments": [one.assignments[0]] * 5000})
    cut = fit_reply(m.Reply.of(many))
    status = rpc.read(E.CONTRACTS_STATUS, m.Reply.model_validate_json(cut.model_dump_json()))
    assert status.truncated and 0 < len(status.assignments) < 5000 and status.counts == one.counts
