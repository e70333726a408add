"""Use cases of the contracts service: one function per command or event, one transaction each.

Each takes a session and a message, changes the tables, queues the events that follow in the
outbox of the same transaction, and returns the `Reply` for a command. Rules that refuse raise
`Rejected` with the field at fault. Nothing here touches NATS.
"""

from __future__ import annotations

from sqlmodel import Session, select

from services.contracts import audit, ledger
from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, TravelRow, UnitRow
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import add_event, utcnow
from shared.scenario import minutes

LIVE = ("approved", "accepted")


# ------------------------------------------------------------------ reference data
def register_reference(session: Session, cmd: m.RegisterReference) -> m.Reply:
    _check_references(session, cmd)
    for u in cmd.units:
        session.merge(UnitRow(id=u.id, record=u.model_dump(mode="json", by_alias=True)))
        add_event(session, s.UNIT_REGISTERED, cmd.caused(m.UnitRegistered, unit=u))
    for t in cmd.travel_minutes:
        session.merge(TravelRow(from_unit=t.from_unit, to_unit=t.to_unit, minutes=t.minutes))
    if cmd.travel_minutes:
        add_event(session, s.TRAVEL_REGISTERED, cmd.caused(m.TravelRegistered, pairs=cmd.travel_minutes))
    for e in cmd.experts:
        _upsert_expert(session, e)
        add_event(session, s.EXPERT_REGISTERED, cmd.caused(m.ExpertRegistered, expert=e))
    session.flush()
    for c in cmd.contracts:
        row = _upsert_contract(session, c)
        add_event(session, s.CONTRACT_REGISTERED, cmd.caused(m.ContractRegistered, contract=c))
        session.flush()
        publish_balance(session, cmd, row)
    audit.record(session, actor=cmd.by, action="register", subject="reference",
                 after={"units": [u.id for u in cmd.units], "experts": [e.id for e in cmd.experts],
                        "contracts": [c.model_dump(mode="json") for c in cmd.contracts]},
                 correlation_id=cmd.correlation_id)
    return m.Reply.success(
        units=len(cmd.units), experts=len(cmd.experts), contracts=len(cmd.contracts),
        travel_minutes=len(cmd.travel_minutes),
    )


def _check_references(session: Session, cmd: m.RegisterReference) -> None:
    units = {u.id for u in cmd.units}
    experts = {e.id for e in cmd.experts}

    def known(model: type, key: str, new: set[str]) -> bool:
        return key in new or session.get(model, key) is not None

    for i, t in enumerate(cmd.travel_minutes):
        for field, uid in (("from", t.from_unit), ("to", t.to_unit)):
            if not known(UnitRow, uid, units):
                raise Rejected(f"unknown unit {uid!r}", f"travel_minutes[{i}].{field}")
    for i, e in enumerate(cmd.experts):
        if not known(UnitRow, e.home_unit, units):
            raise Rejected(f"unknown unit {e.home_unit!r}", f"experts[{i}].home_unit")
    for i, c in enumerate(cmd.contracts):
        if not known(ExpertRow, c.expert, experts):
            raise Rejected(f"unknown expert {c.expert!r}", f"contracts[{i}].expert")
        for uid in c.scope_units or []:
            if not known(UnitRow, uid, units):
                raise Rejected(f"unknown unit {uid!r}", f"contracts[{i}].scope_units")


def _upsert_expert(session: Session, e: m.Expert) -> None:
    row = session.get(ExpertRow, e.id) or ExpertRow(id=e.id, record={}, capacity_minutes=0, committed_minutes=0)
    row.record = e.model_dump(mode="json")
    row.capacity_minutes = minutes(e.capacity_hours)
    row.committed_minutes = minutes(e.committed_hours)
    session.add(row)


def _upsert_contract(session: Session, c: m.Contract) -> ContractRow:
    row = session.get(ContractRow, c.id) or ContractRow(
        id=c.id, expert_id=c.expert, record={}, hourly_rate_vnd=0, cap_minutes=0,
        used_minutes_before=0, max_concurrent=0,
    )
    row.expert_id = c.expert
    row.record = c.model_dump(mode="json")
    row.hourly_rate_vnd = c.hourly_rate_vnd
    row.cap_minutes = minutes(c.hours_cap)
    row.used_minutes_before = minutes(c.hours_used)
    row.budget_cap_vnd = c.budget_cap_vnd
    row.budget_used_before_vnd = c.budget_used_vnd
    row.max_concurrent = c.max_concurrent
    row.active_before = c.active_assignments
    session.add(row)
    return row


def publish_balance(session: Session, cause: m.Message, contract: ContractRow) -> None:
    session.refresh(contract)
    expert = session.get(ExpertRow, contract.expert_id)
    booked = (expert.committed_minutes + expert.booked_minutes) if expert else 0
    add_event(
        session,
        s.BALANCE_CHANGED,
        cause.caused(
            m.BalanceChanged,
            contract_id=contract.id,
            expert_id=contract.expert_id,
            hours_used=contract.used_minutes / 60,
            budget_used_vnd=contract.used_vnd,
            active_assignments=contract.active_before + contract.active_count,
            expert_committed_hours=booked / 60,
            hours_cap=contract.cap_minutes / 60,
            budget_cap_vnd=contract.budget_cap_vnd,
            end=contract.record.get("end"),
        ),
    )


# ------------------------------------------------------------------ proposals from the matcher
def record_proposal(session: Session, evt: m.AssignmentProposed) -> None:
    if session.get(AssignmentRow, evt.assignment_id) is not None:
        return
    if session.get(ContractRow, evt.contract_id) is None:
        raise Rejected(f"proposal names unknown contract {evt.contract_id!r}", "contract_id")
    r = evt.request
    session.add(
        AssignmentRow(
            id=evt.assignment_id, request_id=r.id, slot=evt.slot, unit_id=r.unit, title=r.title,
            expert_id=evt.expert_id, contract_id=evt.contract_id, mode=evt.mode,
            hours=r.effective_slots()[evt.slot].hours, deadline=r.deadline,
            travel_minutes=evt.travel_minutes, minutes=evt.minutes, cost_vnd=evt.cost_vnd,
            explanation=evt.explanation, plan_input_sha256=evt.plan_input_sha256,
        )
    )
    audit.record(session, actor="matcher", action="propose", subject=f"assignment:{evt.assignment_id}",
                 after={"status": "proposed", "expert": evt.expert_id, "contract": evt.contract_id,
                        "minutes": evt.minutes, "cost_vnd": evt.cost_vnd},
                 detail={"request": r.id, "explanation": evt.explanation, "plan_input_sha256": evt.plan_input_sha256},
                 correlation_id=evt.correlation_id)


def withdraw_proposal(session: Session, evt: m.AssignmentWithdrawn) -> None:
    a = session.get(AssignmentRow, evt.assignment_id)
    if a is not None and a.status == "proposed":
        _set(a, "withdrawn", "matcher", evt.reason)
        session.add(a)


# ------------------------------------------------------------------ decisions
def _assignment(session: Session, assignment_id: str) -> AssignmentRow:
    a = session.get(AssignmentRow, assignment_id)
    if a is None:
        raise Rejected(f"unknown assignment {assignment_id!r}", "assignment_id")
    return a


def _require(a: AssignmentRow, *states: str) -> None:
    if a.status not in states:
        raise Rejected(
            f"assignment {a.id} is {a.status}; this needs it to be {' or '.join(states)}",
            "assignment_id",
        )


def _set(a: AssignmentRow, status: str, by: str, note: str = "") -> None:
    a.status, a.decided_by, a.note, a.updated_at = status, by, note, utcnow()


def _audit(session: Session, cause: m.Message, a: AssignmentRow, action: str, before: str, by: str,
           note: str = "", moved: ledger.Movement | None = None) -> None:
    """One trail entry per decision, with the solver's reason and the contract line charged."""
    detail: dict[str, object] = {"request": a.request_id, "unit": a.unit_id, "expert": a.expert_id, "note": note}
    if moved is not None:
        detail["contract_line"] = {"contract": a.contract_id, "minutes": moved.minutes, "vnd": moved.vnd}
    if action == "approve":
        detail["explanation"] = a.explanation
        detail["plan_input_sha256"] = a.plan_input_sha256
    audit.record(session, actor=by, action=action, subject=f"assignment:{a.id}",
                 before={"status": before}, after={"status": a.status}, detail=detail,
                 correlation_id=cause.correlation_id)


def _decision(a: AssignmentRow) -> dict[str, str]:
    return dict(
        assignment_id=a.id, request_id=a.request_id, unit_id=a.unit_id,
        expert_id=a.expert_id, contract_id=a.contract_id, title=a.title,
    )


def approve(session: Session, cmd: m.ApproveAssignment) -> m.Reply:
    a = _assignment(session, cmd.assignment_id)
    _require(a, "proposed")
    moved = ledger.reserve(session, a, cmd.by)
    _set(a, "approved", cmd.by, cmd.comment)
    session.add(a)
    _audit(session, cmd, a, "approve", "proposed", cmd.by, cmd.comment, moved)
    add_event(
        session,
        s.ASSIGNMENT_APPROVED,
        cmd.caused(
            m.AssignmentApproved, **_decision(a), by=cmd.by, comment=cmd.comment, mode=a.mode,
            hours=a.hours, deadline=a.deadline, reserved_minutes=moved.minutes, reserved_vnd=moved.vnd,
        ),
    )
    publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.success(assignment_id=a.id, status=a.status, reserved_minutes=moved.minutes, reserved_vnd=moved.vnd)


def reject(session: Session, cmd: m.RejectAssignment) -> m.Reply:
    a = _assignment(session, cmd.assignment_id)
    _require(a, "proposed")
    _set(a, "rejected", cmd.by, cmd.reason)
    session.add(a)
    _audit(session, cmd, a, "reject", "proposed", cmd.by, cmd.reason)
    add_event(session, s.ASSIGNMENT_REJECTED, cmd.caused(m.AssignmentRejected, **_decision(a), by=cmd.by, reason=cmd.reason))
    return m.Reply.success(assignment_id=a.id, status=a.status)


def _own(a: AssignmentRow, expert_id: str) -> None:
    if a.expert_id != expert_id:
        raise Rejected(f"assignment {a.id} is not expert {expert_id}'s", "expert_id")


def accept(session: Session, cmd: m.AcceptAssignment) -> m.Reply:
    a = _assignment(session, cmd.assignment_id)
    _own(a, cmd.expert_id)
    _require(a, "approved")
    _set(a, "accepted", cmd.expert_id)
    session.add(a)
    _audit(session, cmd, a, "accept", "approved", cmd.expert_id)
    add_event(session, s.ASSIGNMENT_ACCEPTED, cmd.caused(m.AssignmentAccepted, **_decision(a)))
    return m.Reply.success(assignment_id=a.id, status=a.status)


def decline(session: Session, cmd: m.DeclineAssignment) -> m.Reply:
    a = _assignment(session, cmd.assignment_id)
    _own(a, cmd.expert_id)
    _require(a, *LIVE)
    if a.logged_minutes:
        raise Rejected(f"assignment {a.id} already has hours logged; ask staff to close it", "assignment_id")
    before = a.status
    moved = ledger.release(session, a, cmd.expert_id)
    _set(a, "declined", cmd.expert_id, cmd.reason)
    session.add(a)
    _audit(session, cmd, a, "decline", before, cmd.expert_id, cmd.reason, moved)
    add_event(
        session, s.ASSIGNMENT_DECLINED,
        cmd.caused(m.AssignmentDeclined, **_decision(a), reason=cmd.reason, released_minutes=moved.minutes, released_vnd=moved.vnd),
    )
    publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.success(assignment_id=a.id, status=a.status, released_minutes=moved.minutes)


def log_hours(session: Session, cmd: m.LogHours) -> m.Reply:
    a = _assignment(session, cmd.assignment_id)
    _own(a, cmd.expert_id)
    _require(a, "accepted")
    worked = round(cmd.hours * 60)
    left = a.reserved_minutes - a.logged_minutes
    if worked > left:
        raise Rejected(
            f"{cmd.hours:g} h is more than the {left / 60:g} h still reserved for assignment {a.id}; "
            "staff must approve extra hours",
            "hours",
        )
    moved = ledger.consume(session, a, worked, cmd.expert_id)
    session.add(a)
    _audit(session, cmd, a, "log_hours", a.status, cmd.expert_id, cmd.note, moved)
    add_event(
        session, s.HOURS_LOGGED,
        cmd.caused(m.HoursLogged, **_decision(a), minutes=worked, cost_vnd=moved.vnd,
                   total_minutes=a.logged_minutes, reserved_minutes=a.reserved_minutes),
    )
    publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.success(assignment_id=a.id, logged_minutes=a.logged_minutes, cost_vnd=moved.vnd)


def complete_request(session: Session, cmd: m.CompleteRequest) -> m.Reply:
    rows = list(session.exec(select(AssignmentRow).where(AssignmentRow.request_id == cmd.request_id)))
    if not rows:
        raise Rejected(f"unknown request {cmd.request_id!r} (no assignment yet)", "request_id")
    accepted = [a for a in rows if a.status == "accepted"]
    if not accepted:
        raise Rejected(f"request {cmd.request_id} has no accepted assignment to confirm", "request_id")
    released_m = released_v = 0
    done = []
    for a in rows:
        if a.status in LIVE:
            before = a.status
            moved = ledger.release(session, a, cmd.by)
            released_m, released_v = released_m + moved.minutes, released_v + moved.vnd
            _set(a, "completed" if a.status == "accepted" else "cancelled", cmd.by, cmd.comment)
            session.add(a)
            _audit(session, cmd, a, "complete", before, cmd.by, cmd.comment, moved)
            done.append(m.AssignmentDecision(**_decision(a)))
    add_event(
        session, s.REQUEST_COMPLETED,
        cmd.caused(m.RequestCompleted, request_id=cmd.request_id, unit_id=rows[0].unit_id, by=cmd.by,
                   rating=cmd.rating, assignments=done, released_minutes=released_m, released_vnd=released_v),
    )
    for cid in sorted({a.contract_id for a in rows if a.status in ("completed", "cancelled")}):
        publish_balance(session, cmd, session.get(ContractRow, cid))
    return m.Reply.success(request_id=cmd.request_id, completed=len(done), released_minutes=released_m)


def cancel_request(session: Session, evt: m.RequestCancelled) -> None:
    """The commune cancelled: free everything its request reserved."""
    rows = session.exec(select(AssignmentRow).where(AssignmentRow.request_id == evt.request_id))
    for a in rows:
        if a.status == "proposed":
            _set(a, "withdrawn", evt.by, "request cancelled")
        elif a.status in LIVE:
            before = a.status
            moved = ledger.release(session, a, evt.by)
            _set(a, "cancelled", evt.by, evt.reason)
            _audit(session, evt, a, "cancel", before, evt.by, evt.reason, moved)
            add_event(
                session, s.ASSIGNMENT_CANCELLED,
                evt.caused(m.AssignmentCancelled, **_decision(a), reason=evt.reason or "request cancelled",
                           released_minutes=moved.minutes, released_vnd=moved.vnd),
            )
            session.add(a)
            session.flush()
            publish_balance(session, evt, session.get(ContractRow, a.contract_id))
        session.add(a)


# ------------------------------------------------------------------ queries
def status(session: Session) -> m.Reply:
    assignments = [
        a.model_dump(mode="json", exclude={"explanation"})
        for a in session.exec(select(AssignmentRow).order_by(AssignmentRow.created_at))
    ]
    contracts = [
        dict(
            id=c.id, expert_id=c.expert_id, status=c.status, hourly_rate_vnd=c.hourly_rate_vnd,
            hours_cap=c.cap_minutes / 60, hours_used=(c.used_minutes_before + c.consumed_minutes) / 60,
            hours_reserved=c.reserved_minutes / 60, hours_left=(c.cap_minutes - c.used_minutes) / 60,
            budget_cap_vnd=c.budget_cap_vnd, budget_used_vnd=c.budget_used_before_vnd + c.consumed_vnd,
            budget_reserved_vnd=c.reserved_vnd,
            budget_left_vnd=None if c.budget_cap_vnd is None else c.budget_cap_vnd - c.used_vnd,
            active_assignments=c.active_before + c.active_count, max_concurrent=c.max_concurrent,
        )
        for c in session.exec(select(ContractRow).order_by(ContractRow.id))
    ]
    counts = {
        "units": len(session.exec(select(UnitRow.id)).all()),
        "experts": len(session.exec(select(ExpertRow.id)).all()),
    }
    return m.Reply.success(assignments=assignments, contracts=contracts, counts=counts)


def audit_trail(session: Session, q: m.GetAudit) -> m.Reply:
    return m.Reply.success(entries=audit.rows(session, subject=q.subject, limit=q.limit))


def audit_verify(session: Session, _q: m.Message) -> m.Reply:
    problems = audit.verify(session)
    head = session.get(audit.AuditHead, 1)
    return m.Reply.success(intact=not problems, problems=problems, entries=head.seq if head else 0)
