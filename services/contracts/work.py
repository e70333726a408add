"""Work under an approved assignment: hours logged, extra hours decided by staff, completion and
cancellation.

Logged hours within the reservation are consumed at once. Hours beyond it are flagged and wait:
nothing is charged to the contract until staff approve them (and the caps must still hold then),
or refuse them.
"""

from __future__ import annotations

from sqlmodel import Session, select

from services.contracts import assignments as asg
from services.contracts import ledger
from services.contracts.db import AssignmentRow, ContractRow, RequestCopy
from services.contracts.lifecycle import publish_balance
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import add_event
from shared.security.credentials import Actor, system
from shared.statuses import HELD
from shared.statuses import AssignmentStatus as A
from shared.statuses import RequestStatus as R

MATCHER = system("matcher")  # a request cancelled is the matcher's decision (it checked who asked)


def log_hours(session: Session, cmd: m.LogHours, actor: Actor) -> m.Reply[m.HoursTaken]:
    # Locked and read afresh: two logs at once each see what the other consumed (no lost update).
    a = asg.take(session, cmd.assignment_id)
    asg.require(a, A.ACCEPTED)
    worked = round(cmd.hours * 60)
    within = min(worked, a.reserved_minutes - a.logged_minutes)
    extra = worked - within
    cost = _consume(session, cmd, a, within, actor) if within else 0
    if extra:
        _flag(session, cmd, a, extra, actor)
    session.add(a)
    if within:
        publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.of(
        m.HoursTaken(
            assignment_id=a.id, logged_minutes=a.logged_minutes, cost_vnd=cost, flagged_minutes=a.extra_minutes_pending
        )
    )


def _consume(session: Session, cmd: m.LogHours, a: AssignmentRow, within: int, actor: Actor) -> int:
    """Minutes within the reservation: consumed at once, at the contract's price (returned)."""
    moved = ledger.consume(session, a, within, actor.label)
    asg.record(session, cmd, a, "log_hours", a.status, actor, cmd.note, moved)
    add_event(
        session,
        s.HOURS_LOGGED,
        cmd.caused(
            m.HoursLogged,
            **asg.decision(a),
            minutes=within,
            cost_vnd=moved.vnd,
            total_minutes=a.logged_minutes,
            reserved_minutes=a.reserved_minutes,
        ),
    )
    return moved.vnd


def _flag(session: Session, cmd: m.LogHours, a: AssignmentRow, extra: int, actor: Actor) -> None:
    """Minutes beyond the reservation: held for staff, nothing charged yet."""
    a.extra_minutes_pending += extra
    asg.record(
        session,
        cmd,
        a,
        "flag_hours",
        a.status,
        actor,
        cmd.note,
        extra_minutes=extra,
        extra_minutes_pending=a.extra_minutes_pending,
    )
    add_event(
        session,
        s.HOURS_FLAGGED,
        cmd.caused(
            m.HoursFlagged,
            **asg.decision(a),
            minutes=a.extra_minutes_pending,
            reserved_minutes=a.reserved_minutes,
            logged_minutes=a.logged_minutes,
        ),
    )


def decide_extra(session: Session, cmd: m.DecideExtraHours, actor: Actor) -> m.Reply[m.ExtraHoursDecided]:
    a = asg.take(session, cmd.assignment_id)
    extra = a.extra_minutes_pending
    if not extra:
        raise Rejected(f"assignment {a.id} has no extra hours waiting for a decision", "assignment_id")
    a.extra_minutes_pending = 0
    if not cmd.approve:
        session.add(a)
        asg.record(session, cmd, a, "refuse_hours", a.status, actor, cmd.comment, extra_minutes=extra)
        add_event(
            session,
            s.HOURS_REFUSED,
            cmd.caused(m.HoursRefused, **asg.decision(a), minutes=extra, by=actor.label, reason=cmd.comment),
        )
        return m.Reply.of(m.ExtraHoursDecided(assignment_id=a.id, approved_minutes=0, refused_minutes=extra))
    moved = ledger.consume_extra(session, a, extra, actor.label)
    session.add(a)
    asg.record(session, cmd, a, "approve_hours", a.status, actor, cmd.comment, moved)
    add_event(
        session,
        s.HOURS_LOGGED,
        cmd.caused(
            m.HoursLogged,
            **asg.decision(a),
            minutes=extra,
            cost_vnd=moved.vnd,
            total_minutes=a.logged_minutes,
            reserved_minutes=a.reserved_minutes,
        ),
    )
    publish_balance(session, cmd, session.get(ContractRow, a.contract_id))
    return m.Reply.of(m.ExtraHoursDecided(assignment_id=a.id, approved_minutes=extra, cost_vnd=moved.vnd))


def complete_request(session: Session, cmd: m.CompleteRequest, actor: Actor) -> m.Reply[m.RequestDone]:
    rows = asg.lock_request(session, cmd.request_id)
    if not rows:
        raise Rejected(f"unknown request {cmd.request_id!r} (no assignment yet)", "request_id")
    if not any(a.status == A.ACCEPTED for a in rows):
        raise Rejected(f"request {cmd.request_id} has no accepted assignment to confirm", "request_id")
    released_m = released_v = 0
    done, completed, touched = [], [], set()
    for a in rows:
        if a.status == A.PROPOSED:  # nothing more will be approved for a completed request
            asg.move(session, a, A.WITHDRAWN, actor.label, "request completed")
        elif a.status in HELD:
            before = a.status
            moved = ledger.release(session, a, actor.label)
            released_m, released_v = released_m + moved.minutes, released_v + moved.vnd
            session.add(a)
            asg.move(session, a, A.COMPLETED if before == A.ACCEPTED else A.CANCELLED, actor.label, cmd.comment)
            asg.record(session, cmd, a, "complete", before, actor, cmd.comment, moved)
            done.append(m.AssignmentDecision(**asg.decision(a)))
            if a.status == A.COMPLETED:
                completed.append(a.id)
            touched.add(a.contract_id)
    _copy_status(session, cmd.request_id, R.COMPLETED)
    add_event(
        session,
        s.REQUEST_COMPLETED,
        cmd.caused(
            m.RequestCompleted,
            request_id=cmd.request_id,
            unit_id=rows[0].unit_id,
            by=actor.label,
            rating=cmd.rating,
            assignments=done,
            released_minutes=released_m,
            released_vnd=released_v,
            completed=completed,
        ),
    )
    for cid in sorted(touched):
        publish_balance(session, cmd, session.get(ContractRow, cid))
    return m.Reply.of(m.RequestDone(request_id=cmd.request_id, completed=len(done), released_minutes=released_m))


def the_commune(session: Session, cmd: m.CompleteRequest, actor: Actor) -> None:
    """Ownership: only the commune of the request's unit confirms its completion (not staff for
    them). The unit is the one the request was submitted for, as recorded here."""
    copy = session.get(RequestCopy, cmd.request_id)
    unit = (
        copy.unit_id
        if copy is not None
        else next(
            iter(session.exec(select(AssignmentRow.unit_id).where(AssignmentRow.request_id == cmd.request_id))), None
        )
    )
    if unit is None:
        raise Rejected(f"unknown request {cmd.request_id!r} (no assignment yet)", "request_id")
    if actor.party_id("unit") != unit:
        raise Rejected(
            f"you act as {actor.party}; only the commune of unit {unit} confirms request {cmd.request_id}",
            "request_id",
            code=m.Refusal.NOT_YOURS,
        )


def cancel_request(session: Session, evt: m.RequestCancelled) -> None:
    """The commune cancelled: free everything its request reserved."""
    rows = asg.lock_request(session, evt.request_id)
    _copy_status(session, evt.request_id, R.CANCELLED)
    for a in rows:
        if a.status == A.PROPOSED:
            asg.move(session, a, A.WITHDRAWN, evt.by, "request cancelled")  # as the matcher verified
        elif a.status in HELD:
            before = a.status
            moved = ledger.release(session, a, evt.by)
            session.add(a)
            asg.move(session, a, A.CANCELLED, evt.by, evt.reason)
            asg.record(session, evt, a, "cancel", before, MATCHER, f"cancelled by {evt.by}: {evt.reason}", moved)
            add_event(
                session,
                s.ASSIGNMENT_CANCELLED,
                evt.caused(
                    m.AssignmentCancelled,
                    **asg.decision(a),
                    reason=evt.reason or "request cancelled",
                    released_minutes=moved.minutes,
                    released_vnd=moved.vnd,
                ),
            )
            session.flush()
            publish_balance(session, evt, session.get(ContractRow, a.contract_id))


def copy_request(session: Session, evt: m.RequestSubmitted) -> None:
    """Keep what each unit asked for, for the reports."""
    r = evt.request
    if session.get(RequestCopy, r.id) is None:
        session.add(
            RequestCopy(
                id=r.id,
                unit_id=r.unit,
                title=r.title,
                priority=r.priority,
                hours=sum(x.hours for x in r.effective_slots()),
                submitted_at=evt.occurred_at,
            )
        )


def copy_requests(session: Session, evt: m.RequestsSubmitted) -> None:
    """A bulk submission's requests, each as `copy_request` keeps it, in one transaction."""
    for one in evt.submitted:
        copy_request(session, one)


def _copy_status(session: Session, request_id: str, status: str) -> None:
    row = session.get(RequestCopy, request_id)
    if row is not None:
        row.status = status
        session.add(row)
