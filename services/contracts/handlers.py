"""Use cases of the contracts service on proposals: recording them, staff's decisions (one by one
or a batch), the expert's answer, and the read-only queries.

Each takes a session and a message, changes the tables, queues the events that follow in the
outbox of the same transaction, and returns the `Reply` for a command. Rules that refuse raise
`Rejected` with the field at fault. Nothing here touches NATS. Reference data is in `reference`,
the lifecycle in `lifecycle`, logged work in `work`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.contracts import assignments as asg
from services.contracts import audit, ledger
from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, UnitRow
from services.contracts.lifecycle import publish_balance
from shared import limits as L
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import ProcessedMessage, add_event, already_processed, in_order
from shared.security import credentials
from shared.security.credentials import Actor, IssuerKey, Refused
from shared.statuses import HELD, ContractStatus
from shared.statuses import AssignmentStatus as A

MATCHER = credentials.system("matcher")


# ------------------------------------------------------------------ proposals from the matcher
def record_proposal(session: Session, evt: m.AssignmentProposed, *, issuers: list[IssuerKey]) -> None:
    if session.get(AssignmentRow, evt.assignment_id) is not None:
        return
    _believable(session, evt)
    staff, unproven = (None, "") if evt.manual is None else _staff_of(session, evt, issuers)
    a = _proposed_row(evt)
    session.add(a)
    if staff is not None:  # approved below: the ledger's rows are locked before the audit head
        session.flush()
        ids = session.exec(select(AssignmentRow.id).where(AssignmentRow.request_id == a.request_id))
        asg.lock_in_order(session, assignments=ids, contracts=[a.contract_id], experts=[a.expert_id])
    _audit_proposal(session, evt, a, staff or MATCHER, unproven)
    if staff is not None and evt.manual is not None:
        session.flush()
        _approve_override(session, evt, a, evt.manual, staff)


def _believable(session: Session, evt: m.AssignmentProposed) -> None:
    """An event is believed only as far as it makes sense: one expert's work is never charged to
    another's contract, and a slot the request does not have is nobody's."""
    contract = session.get(ContractRow, evt.contract_id)
    if contract is None:
        raise Rejected(f"proposal names unknown contract {evt.contract_id!r}", "contract_id")
    if contract.expert_id != evt.expert_id:
        raise Rejected(f"contract {evt.contract_id!r} is not expert {evt.expert_id!r}'s", "contract_id")
    if evt.slot >= len(evt.request.effective_slots()):
        raise Rejected(f"request {evt.request.id!r} has no slot {evt.slot}", "slot")


def _proposed_row(evt: m.AssignmentProposed) -> AssignmentRow:
    """The proposal as this service keeps it, waiting for staff."""
    r = evt.request
    return AssignmentRow(
        id=evt.assignment_id,
        request_id=r.id,
        slot=evt.slot,
        unit_id=r.unit,
        title=r.title,
        expert_id=evt.expert_id,
        contract_id=evt.contract_id,
        mode=evt.mode,
        hours=r.effective_slots()[evt.slot].hours,
        deadline=r.deadline,
        travel_minutes=evt.travel_minutes,
        minutes=evt.minutes,
        cost_vnd=evt.cost_vnd,
        explanation=evt.explanation,
        plan_input_sha256=evt.plan_input_sha256,
        origin="manual" if evt.manual else "solver",
    )


def _audit_proposal(session: Session, evt: m.AssignmentProposed, a: AssignmentRow, actor: Actor, unproven: str) -> None:
    """The proposal in the audit trail, with the solver's reasons and the input it planned from."""
    override = evt.manual.model_dump(exclude={"command"}) if evt.manual else None
    audit.record(
        session,
        actor=actor,
        action="propose",
        subject=f"assignment:{a.id}",
        after={
            "status": A.PROPOSED,
            "expert": evt.expert_id,
            "contract": evt.contract_id,
            "minutes": evt.minutes,
            "cost_vnd": evt.cost_vnd,
            "mode": evt.mode,
        },
        detail={
            "request": evt.request.model_dump(mode="json"),
            "slot": evt.slot,
            "explanation": evt.explanation,
            "plan_input_sha256": evt.plan_input_sha256,
            "override": override,
            **({"not_approved_at_once": unproven} if unproven else {}),
        },
        correlation_id=evt.correlation_id,
    )


def _staff_of(session: Session, evt: m.AssignmentProposed, issuers: list[IssuerKey]) -> tuple[Actor | None, str]:
    """The staff member whose signed assign command this manual proposal carries, or (None, why
    not). Only then is it approved as it arrives; otherwise it waits for staff like any proposal:
    the matcher has already left the request to staff, and a proposal nobody approved costs
    nothing. One signed command approves at most one proposal (its event id is kept)."""
    assert evt.manual is not None
    signed = evt.manual.command
    if signed is None:
        return None, "no signed staff command"
    evidence = signed.model_dump()
    try:
        cred, doc = credentials.check_evidence(evidence, issuers, _signed_at(signed.document))
    except Refused as err:
        return None, err.reason
    if doc["subject"] != s.ASSIGNMENT_ASSIGN or cred.role not in credentials.STAFF:
        return None, "the signed command is not a staff member's assign command"
    if (doc.get("request_id"), doc.get("slot"), doc.get("expert_id"), doc.get("contract_id")) != (
        evt.request.id,
        evt.slot,
        evt.expert_id,
        evt.contract_id,
    ):
        return None, "the signed assign command names another request, slot, expert or contract"
    key = f"assign-command:{doc.get('event_id')}"
    if already_processed(session, key) is not None:
        return None, "the signed assign command was already used"
    session.add(ProcessedMessage(message_id=key, subject=s.ASSIGNMENT_ASSIGN))
    return Actor(
        person=cred.person, role=cred.role, party=cred.party, channel=cred.channel, name=cred.name, evidence=evidence
    ), ""


def _signed_at(document: str) -> dt.datetime:
    """When the person signed (the command's own time, covered by the signature): the proposal
    may reach contracts after the credential expired, the decision was made while it held."""
    try:
        at = dt.datetime.fromisoformat(json.loads(document.partition("\n")[2])["occurred_at"])
    except (ValueError, KeyError, TypeError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)  # refused by the credential's lifetime
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _approve_override(
    session: Session, evt: m.AssignmentProposed, a: AssignmentRow, manual: m.ManualOverride, staff: Actor
) -> None:
    """Staff's own assignment is approved as it arrives, if the ledger has room for it."""
    try:
        with session.begin_nested():
            asg.slot_free(session, a)
            moved = ledger.reserve(session, a, staff.label)
    except Rejected as err:
        asg.move(session, a, A.REJECTED, "ledger", err.message)
        asg.record(session, evt, a, "refuse", A.PROPOSED, asg.LEDGER, err.message)
        add_event(
            session,
            s.ASSIGNMENT_REJECTED,
            evt.caused(m.AssignmentRejected, **asg.decision(a), by="ledger", reason=err.message),
        )
        return
    _approved(
        session, evt, a, staff, manual.reason, moved, action="assign", override=manual.model_dump(exclude={"command"})
    )


def _approved(
    session: Session,
    cause: m.Message,
    a: AssignmentRow,
    by: Actor,
    comment: str,
    moved: ledger.Movement,
    *,
    action: str = "approve",
    **extra: Any,
) -> None:
    session.add(a)
    asg.move(session, a, A.APPROVED, by.label, comment)
    asg.record(session, cause, a, action, A.PROPOSED, by, comment, moved, **extra)
    add_event(
        session,
        s.ASSIGNMENT_APPROVED,
        cause.caused(
            m.AssignmentApproved,
            **asg.decision(a),
            by=by.label,
            comment=comment,
            mode=a.mode,
            hours=a.hours,
            deadline=a.deadline,
            reserved_minutes=moved.minutes,
            reserved_vnd=moved.vnd,
        ),
    )
    publish_balance(session, cause, session.get(ContractRow, a.contract_id))


def withdraw_proposal(session: Session, evt: m.AssignmentWithdrawn) -> None:
    """Only a proposal staff have not decided on: an approval that crossed the withdrawal wins."""
    a = session.get(AssignmentRow, evt.assignment_id)
    if a is None:
        return
    with contextlib.suppress(Rejected):  # decided meanwhile: that decision stands, the matcher follows it
        asg.move(session, a, A.WITHDRAWN, "matcher", evt.reason)


# ------------------------------------------------------------------ staff decisions
def _named(cmd: m.ApproveAssignment | m.RejectAssignment | m.DecideAssignments, assignment_id: str | None) -> str:
    """The assignment a decision is about: the caller's (one of a batch's), else the command's own."""
    if assignment_id:
        return assignment_id
    if isinstance(cmd, m.DecideAssignments):
        raise TypeError("a batch decision is taken one named assignment at a time")
    return cmd.assignment_id


def approve(
    session: Session, cmd: m.ApproveAssignment | m.DecideAssignments, actor: Actor, assignment_id: str | None = None
) -> m.Reply[m.AssignmentReserved]:
    a = asg.take(session, _named(cmd, assignment_id), whole_request=True)
    asg.require(a, A.PROPOSED)
    asg.slot_free(session, a)
    moved = ledger.reserve(session, a, actor.label)
    _approved(session, cmd, a, actor, cmd.comment, moved)
    return m.Reply.of(
        m.AssignmentReserved(
            assignment_id=a.id, status=a.status, reserved_minutes=moved.minutes, reserved_vnd=moved.vnd
        )
    )


def reject(
    session: Session, cmd: m.RejectAssignment | m.DecideAssignments, actor: Actor, assignment_id: str | None = None
) -> m.Reply[m.AssignmentMoved]:
    a = asg.take(session, _named(cmd, assignment_id), ledger_rows=False)
    asg.require(a, A.PROPOSED)
    reason = cmd.reason if isinstance(cmd, m.RejectAssignment) else cmd.comment
    asg.move(session, a, A.REJECTED, actor.label, reason)
    asg.record(session, cmd, a, "reject", A.PROPOSED, actor, reason)
    add_event(
        session,
        s.ASSIGNMENT_REJECTED,
        cmd.caused(m.AssignmentRejected, **asg.decision(a), by=actor.label, reason=reason),
    )
    return m.Reply.of(m.AssignmentMoved(assignment_id=a.id, status=a.status))


def decide_batch(session: Session, cmd: m.DecideAssignments, actor: Actor) -> m.Reply[m.BatchDecided]:
    """Each proposal of the batch is decided on its own: one refused (a cap, a state) leaves the
    others decided, and the reply says which and why."""
    decide = approve if cmd.decision == "approve" else reject
    results: list[m.DecisionResult] = []
    for aid in dict.fromkeys(cmd.assignment_ids):
        try:
            with session.begin_nested():
                view = decide(session, cmd, actor, aid).data
            assert view is not None
            results.append(m.DecisionResult(ok=True, **view.model_dump()))
        except Rejected as err:
            results.append(m.DecisionResult(assignment_id=aid, ok=False, error=err.message))
    done = sum(r.ok for r in results)
    return m.Reply.of(m.BatchDecided(decision=cmd.decision, decided=done, refused=len(results) - done, results=results))


# ------------------------------------------------------------------ the expert's answer
def accept(session: Session, cmd: m.AcceptAssignment, actor: Actor) -> m.Reply[m.AssignmentMoved]:
    a = asg.take(session, cmd.assignment_id, ledger_rows=False)
    asg.require(a, A.APPROVED)
    asg.move(session, a, A.ACCEPTED, actor.label)
    asg.record(session, cmd, a, "accept", A.APPROVED, actor)
    add_event(session, s.ASSIGNMENT_ACCEPTED, cmd.caused(m.AssignmentAccepted, **asg.decision(a)))
    return m.Reply.of(m.AssignmentMoved(assignment_id=a.id, status=a.status))


def decline(session: Session, cmd: m.DeclineAssignment, actor: Actor) -> m.Reply[m.AssignmentReleased]:
    a = asg.take(session, cmd.assignment_id)
    # The notifier declines for an expert who never answered: only while the task is unanswered,
    # so an acceptance that raced it wins; the trail names the system as the one who declined.
    asg.require(a, *((A.APPROVED,) if cmd.unanswered_only else HELD))
    if a.logged_minutes or a.extra_minutes_pending:
        raise Rejected(f"assignment {a.id} already has hours logged; ask staff to close it", "assignment_id")
    by = "system (no answer)" if cmd.unanswered_only else actor.label
    before = a.status
    moved = ledger.release(session, a, by)
    session.add(a)
    asg.move(session, a, A.DECLINED, by, cmd.reason)
    asg.record(session, cmd, a, "decline", before, actor, cmd.reason, moved)
    add_event(
        session,
        s.ASSIGNMENT_DECLINED,
        cmd.caused(
            m.AssignmentDeclined,
            **asg.decision(a),
            reason=cmd.reason,
            released_minutes=moved.minutes,
            released_vnd=moved.vnd,
        ),
    )
    publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.of(m.AssignmentReleased(assignment_id=a.id, status=a.status, released_minutes=moved.minutes))


# ------------------------------------------------------------------ queries
def _serves(c: ContractRow, unit_id: str) -> bool:
    scope = c.record.get("scope_units")
    return scope is None or unit_id in scope


def status(session: Session, q: m.GetContractsStatus) -> m.Reply[m.ContractsStatus]:
    """Assignments (narrowed by unit, requests, expert, contract, status, extra hours waiting; the
    newest `limit`), the contracts' balances (one with `contract_id`; with `unit_id`, those that can
    serve the unit: their scope includes it, or they have none; none without `with_contracts`)
    and the counts."""
    rows = _assignments(session, q)
    contracts = _balances(session, q) if q.with_contracts else []
    cut = len(rows) > L.REPLY_ROWS or len(contracts) > L.REPLY_ROWS
    return m.Reply.of(
        m.ContractsStatus(
            assignments=[m.AssignmentView.model_validate(a) for a in rows[: L.REPLY_ROWS]],
            contracts=contracts[: L.REPLY_ROWS],
            counts=_counts(session),
            truncated=cut or (q.limit is not None and len(rows) == q.limit),
        )
    )


def _assignments(session: Session, q: m.GetContractsStatus) -> list[AssignmentRow]:
    query = select(AssignmentRow)
    for column, value in (
        (AssignmentRow.unit_id, q.unit_id),
        (AssignmentRow.expert_id, q.expert_id),
        (AssignmentRow.contract_id, q.contract_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if q.request_ids is not None:
        query = query.where(col(AssignmentRow.request_id).in_(q.request_ids))
    if q.statuses:
        query = query.where(col(AssignmentRow.status).in_(q.statuses))
    if q.extra_pending:
        query = query.where(AssignmentRow.extra_minutes_pending > 0)
    return list(in_order(session, query, (AssignmentRow.created_at, AssignmentRow.id), q.limit, q.oldest_first))


def _balances(session: Session, q: m.GetContractsStatus) -> list[m.ContractBalance]:
    query = select(ContractRow).order_by(ContractRow.id)
    if q.contract_id is not None:
        query = query.where(ContractRow.id == q.contract_id)
    return [balance(c) for c in session.exec(query) if q.unit_id is None or _serves(c, q.unit_id)]


def balance(c: ContractRow) -> m.ContractBalance:
    """A contract's status and what it has left, as the status query shows it."""
    return m.ContractBalance(
        id=c.id,
        expert_id=c.expert_id,
        kind=c.kind,
        status=ContractStatus(c.status),
        hourly_rate_vnd=c.hourly_rate_vnd,
        hours_cap=c.cap_minutes / 60,
        hours_used=(c.used_minutes_before + c.consumed_minutes) / 60,
        hours_reserved=c.reserved_minutes / 60,
        hours_left=(c.cap_minutes - c.used_minutes) / 60,
        budget_cap_vnd=c.budget_cap_vnd,
        budget_used_vnd=c.budget_used_before_vnd + c.consumed_vnd,
        budget_reserved_vnd=c.reserved_vnd,
        budget_left_vnd=None if c.budget_cap_vnd is None else c.budget_cap_vnd - c.used_vnd,
        active_assignments=c.active_before + c.active_count,
        max_concurrent=c.max_concurrent,
        start=c.starts_on,
        end=c.ends_on,
    )


def _counts(session: Session) -> m.ContractCounts:
    def count(table: Any) -> int:
        return int(session.exec(select(func.count()).select_from(table)).one())

    return m.ContractCounts(
        units=count(UnitRow), experts=count(ExpertRow), contracts=count(ContractRow), assignments=count(AssignmentRow)
    )


def audit_trail(session: Session, q: m.GetAudit) -> m.Reply[m.AuditTrail]:
    entries = audit.rows(session, subject=q.subject, limit=q.limit)
    shown = [m.AuditEntry.model_validate(e) for e in entries[: L.REPLY_ROWS]]
    return m.Reply.of(m.AuditTrail(entries=shown, truncated=len(entries) > L.REPLY_ROWS))


def audit_verify(session: Session, _q: m.VerifyAudit, *, issuers: list[IssuerKey]) -> m.Reply[m.AuditVerified]:
    problems, counts = audit.verify(session, issuers)
    head = session.get(audit.AuditHead, 1)
    return m.Reply.of(
        m.AuditVerified(
            intact=not problems,
            problems=problems[: L.REPLY_ROWS],
            entries=head.seq if head else 0,
            truncated=len(problems) > L.REPLY_ROWS,
            **counts,
        )
    )
