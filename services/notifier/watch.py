"""What time alone makes worth telling: approved tasks their expert has not answered, and contracts
about to end. Each step is a function of the database and `now`, run by the clock (`clock.py`).

An unanswered task goes waiting -> reminded (the expert, once) -> escalated (staff) -> declining
(the clock asks the contracts service to decline it for the expert) -> closed. Answering,
cancelling or completing closes it at any stage. Each notification here has an event id made
from what it is about, so a check repeated after a crash adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from services.notifier.db import AnswerWatch, ContractWatch
from services.notifier.directory import name
from services.notifier.inbox import notify
from services.notifier.templates import duration
from shared import messages as m
from shared.parties import expert_party, unit_party
from shared.statuses import ContractStatus

OPEN = ("waiting", "reminded", "escalated", "declining")


@dataclass(frozen=True)
class Limits:
    remind: dt.timedelta
    escalate: dt.timedelta
    decline: dt.timedelta


def stable_id(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def aware(t: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every time this service stores is UTC.
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def task_fields(session: Session, w: AnswerWatch) -> dict[str, Any]:
    return dict(
        assignment_id=w.assignment_id,
        request_id=w.request_id,
        title=w.title,
        mode=w.mode,
        hours=w.hours,
        deadline=w.deadline,
        expert_id=w.expert_id,
        unit_name=name(session, unit_party(w.unit_id)),
        expert_name=name(session, expert_party(w.expert_id)),
    )


def _because(w: AnswerWatch, step: str) -> m.Message:
    return m.Message(event_id=stable_id(step, w.assignment_id), correlation_id=w.correlation_id)


def claim(session: Session, stmt: Any) -> Any:
    """The row of `stmt`, locked for this transaction, or None if another copy's clock holds it
    (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's one writer needs no lock)."""
    return session.exec(stmt.with_for_update(skip_locked=True)).first()


def open_answers(session: Session) -> list[str]:
    """The tasks still waiting for their expert: each is advanced in a transaction of its own."""
    return list(session.exec(select(AnswerWatch.assignment_id).where(col(AnswerWatch.stage).in_(OPEN))))


def advance_answer(
    session: Session, assignment_id: str, *, now: dt.datetime, limits: Limits, staff: str
) -> AnswerWatch | None:
    """Remind and escalate one task if due (claimed: one copy does it); the task if it is to be
    declined for its expert now."""
    w = claim(
        session, select(AnswerWatch).where(AnswerWatch.assignment_id == assignment_id, col(AnswerWatch.stage).in_(OPEN))
    )
    if w is None:
        return None  # answered meanwhile, or another copy is on it
    waited = now - aware(w.approved_at or now)
    fields = dict(task_fields(session, w), decline_after=limits.decline)
    if w.stage == "waiting" and waited >= limits.remind:
        notify(
            session,
            _because(w, "remind"),
            expert_party(w.expert_id),
            "task_reminder",
            **fields,
            waited=limits.remind,
        )
        w.stage = "reminded"
    if w.stage == "reminded" and waited >= limits.escalate:
        notify(
            session,
            _because(w, "escalate"),
            staff,
            "task_escalated",
            **fields,
            waited=limits.escalate,
        )
        w.stage = "escalated"
    if w.stage == "escalated" and waited >= limits.decline:
        w.stage = "declining"
    session.add(w)
    return AnswerWatch.model_validate(w.model_dump()) if w.stage == "declining" else None


def decline_command(w: AnswerWatch, limits: Limits) -> m.DeclineAssignment:
    # A fixed event id: a resend after a lost reply is answered from the contracts service's record.
    waited = duration(limits.decline.total_seconds(), "en")
    return m.DeclineAssignment(
        event_id=stable_id("decline", w.assignment_id),
        correlation_id=w.correlation_id,
        assignment_id=w.assignment_id,
        expert_id=w.expert_id,
        unanswered_only=True,
        reason=f"no answer within {waited}: declined by the system",
    )


def closed_by_system(session: Session, assignment_id: str, *, declined: bool, limits: Limits) -> None:
    """The decline was answered: tell the expert when it went through, and stop watching. The
    declined event may have closed the watch first; the notification's fixed id keeps it single."""
    w = session.get(AnswerWatch, assignment_id)
    if w is None:
        return
    if declined:
        notify(
            session,
            _because(w, "expired"),
            expert_party(w.expert_id),
            "task_expired",
            **task_fields(session, w),
            waited=limits.decline,
        )
    w.stage = "closed"
    session.add(w)


def close(session: Session, d: m.AssignmentDecision) -> None:
    """The expert answered, or the task ended: stop watching (or never start, see AnswerWatch)."""
    w = session.get(AnswerWatch, d.assignment_id) or AnswerWatch(
        assignment_id=d.assignment_id,
        expert_id=d.expert_id,
        unit_id=d.unit_id,
        request_id=d.request_id,
        title=d.title or d.request_id,
    )
    w.stage = "closed"
    session.add(w)


#: Contracts whose end staff are warned of: those still meant to work until it.
WATCHED = (ContractStatus.ACTIVE, ContractStatus.SUSPENDED)


def expiring(session: Session, *, today: dt.date, days: int) -> list[str]:
    """Contracts ending within `days` days whose staff have not been warned of that end."""
    rows = session.exec(
        select(ContractWatch).where(
            col(ContractWatch.status).in_(WATCHED),
            ContractWatch.end >= today,
            ContractWatch.end <= today + dt.timedelta(days=days),
        )
    )
    return [c.contract_id for c in rows if c.warned_end != c.end]


def warn_expiring(session: Session, contract_id: str, *, today: dt.date, days: int, staff: str) -> bool:
    """Tell staff once per end date that this contract ends within `days` days (claimed: one copy)."""
    c = claim(session, select(ContractWatch).where(ContractWatch.contract_id == contract_id))
    if c is None or c.warned_end == c.end or c.status not in WATCHED:
        return False
    if not today <= c.end <= today + dt.timedelta(days=days):
        return False
    because = m.Message(event_id=stable_id("expiring", c.contract_id, c.end.isoformat()))
    notify(
        session,
        because,
        staff,
        "contract_expiring",
        contract_id=c.contract_id,
        end=c.end,
        expert_name=name(session, expert_party(c.expert_id)),
        days=(c.end - today).days,
    )
    c.warned_end = c.end
    session.add(c)
    return True
