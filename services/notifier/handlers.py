"""Who hears of what: one use case per event, each writing the inbox in one transaction.

Every notification is keyed by (event id, party, kind), so a redelivered or duplicated event
adds nothing twice. Names come from the party directory, so people read "Xã Thượng Lâm", not ids.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select

from services.notifier.db import LowBalanceAlert, Notification, Party
from services.notifier.templates import dong, render
from shared import messages as m
from shared import subjects as s
from shared.db import add_event

STAFF = "staff:home-affairs"


def _name(session: Session, party: str) -> str:
    row = session.get(Party, party)
    return row.name if row else party.split(":", 1)[1]


def _language(session: Session, party: str) -> str:
    row = session.get(Party, party)
    return row.language if row else "vi"


def notify(session: Session, evt: m.Message, party: str, kind: str, **fields: Any) -> None:
    dup = select(Notification.id).where(
        Notification.source_event_id == evt.event_id, Notification.party == party, Notification.kind == kind
    )
    if session.exec(dup).first() is not None:
        return
    language = _language(session, party)
    subject, body = render(kind, language, **fields)
    note = Notification(party=party, kind=kind, language=language, subject=subject, body=body,
                        source_event_id=evt.event_id)
    session.add(note)
    session.flush()
    add_event(session, s.NOTIFICATION_DELIVERED, evt.caused(
        m.NotificationDelivered, notification_id=str(note.id), party=party, channel="inbox", kind=kind,
        source_event_id=evt.event_id))


# ------------------------------------------------------------------ the directory
def remember_unit(session: Session, evt: m.UnitRegistered) -> None:
    session.merge(Party(id=f"unit:{evt.unit.id}", name=evt.unit.name, language="vi"))


def remember_expert(session: Session, evt: m.ExpertRegistered) -> None:
    langs = evt.expert.languages
    language = "en" if "en" in langs and "vi" not in langs else "vi"
    session.merge(Party(id=f"expert:{evt.expert.id}", name=evt.expert.name, language=language))


# ------------------------------------------------------------------ requests and proposals
def _about(session: Session, evt: Any) -> dict[str, Any]:
    """The fields every assignment template may use."""
    unit = getattr(evt, "unit_id", None) or evt.request.unit
    expert = evt.expert_id
    return dict(assignment_id=evt.assignment_id, request_id=getattr(evt, "request_id", None) or evt.request.id,
                title=evt.title if hasattr(evt, "title") else evt.request.title,
                unit_name=_name(session, f"unit:{unit}"), expert_name=_name(session, f"expert:{expert}"),
                expert_id=expert)


def request_submitted(session: Session, evt: m.RequestSubmitted) -> None:
    r = evt.request
    notify(session, evt, f"unit:{r.unit}", "request_received", request_id=r.id, title=r.title,
           hours=float(r.hours), deadline=r.deadline, unit_name=_name(session, f"unit:{r.unit}"))


def assignment_proposed(session: Session, evt: m.AssignmentProposed) -> None:
    about = _about(session, evt)
    why = evt.explanation.get("summary") or evt.explanation.get("why") or ""
    fields = dict(about, mode=evt.mode, hours=evt.minutes / 60, cost=dong(evt.cost_vnd), why=why or "-")
    notify(session, evt, STAFF, "proposal_waiting", **fields)
    notify(session, evt, f"unit:{evt.request.unit}", "request_matched", **fields)


def request_unmatched(session: Session, evt: m.RequestUnmatched) -> None:
    fields = dict(request_id=evt.request_id, title=evt.title or evt.request_id, unit_name=_name(session, f"unit:{evt.unit_id}"),
                  reason=evt.reason)
    notify(session, evt, f"unit:{evt.unit_id}", "request_unmatched", **fields)
    notify(session, evt, STAFF, "request_unmatched", **fields)


# ------------------------------------------------------------------ decisions
def approved(session: Session, evt: m.AssignmentApproved) -> None:
    fields = dict(_about(session, evt), mode=evt.mode, hours=evt.hours, deadline=evt.deadline)
    notify(session, evt, f"expert:{evt.expert_id}", "task_new", **fields)
    notify(session, evt, f"unit:{evt.unit_id}", "request_approved", **fields)


def accepted(session: Session, evt: m.AssignmentAccepted) -> None:
    for party in (f"unit:{evt.unit_id}", STAFF):
        notify(session, evt, party, "task_accepted", **_about(session, evt))


def declined(session: Session, evt: m.AssignmentDeclined) -> None:
    for party in (f"unit:{evt.unit_id}", STAFF):
        notify(session, evt, party, "task_declined", **_about(session, evt), reason=evt.reason or "-")


def cancelled(session: Session, evt: m.AssignmentCancelled) -> None:
    notify(session, evt, f"expert:{evt.expert_id}", "task_cancelled", **_about(session, evt), reason=evt.reason or "-")


def hours_logged(session: Session, evt: m.HoursLogged) -> None:
    notify(session, evt, f"unit:{evt.unit_id}", "hours_logged", **_about(session, evt), hours=evt.minutes / 60,
           total_hours=evt.total_minutes / 60)


def completed(session: Session, evt: m.RequestCompleted) -> None:
    unit_name = _name(session, f"unit:{evt.unit_id}")
    title = evt.assignments[0].title if evt.assignments else evt.request_id
    fields = dict(request_id=evt.request_id, title=title, unit_name=unit_name)
    parties = [f"unit:{evt.unit_id}", STAFF, *(f"expert:{a.expert_id}" for a in evt.assignments)]
    for party in dict.fromkeys(parties):
        notify(session, evt, party, "request_completed", **fields)


def balance_changed(session: Session, evt: m.BalanceChanged, *, ratio: float = 0.10) -> None:
    """Tell staff once when a contract falls under `ratio` of its hours or budget, again only after
    it has recovered and fallen again."""
    hours_left = (evt.hours_cap or 0) - evt.hours_used
    budget_left = None if evt.budget_cap_vnd is None else evt.budget_cap_vnd - evt.budget_used_vnd
    low = (evt.hours_cap is not None and hours_left < ratio * evt.hours_cap) or (
        budget_left is not None and evt.budget_cap_vnd and budget_left < ratio * evt.budget_cap_vnd)
    state = session.get(LowBalanceAlert, evt.contract_id) or LowBalanceAlert(contract_id=evt.contract_id)
    if low and not state.low:
        notify(session, evt, STAFF, "balance_low", contract_id=evt.contract_id,
               expert_name=_name(session, f"expert:{evt.expert_id}"), hours_left=float(hours_left),
               hours_cap=float(evt.hours_cap or 0), budget_left=dong(budget_left))
    state.low = bool(low)
    session.add(state)


# ------------------------------------------------------------------ the inbox
def inbox(session: Session, q: m.GetInbox) -> m.Reply:
    stmt = select(Notification).where(Notification.party == q.party)
    if q.unread_only:
        stmt = stmt.where(Notification.read == False)  # noqa: E712
    rows = session.exec(stmt.order_by(Notification.id.desc()).limit(q.limit)).all()  # type: ignore[union-attr]
    unread = session.exec(select(func.count()).select_from(Notification).where(
        Notification.party == q.party, Notification.read == False)).one()  # noqa: E712
    return m.Reply.success(unread=unread, notifications=[
        dict(id=str(n.id), kind=n.kind, subject=n.subject, body=n.body, language=n.language, read=n.read,
             created_at=n.created_at.isoformat(), source_event_id=n.source_event_id) for n in rows])


def mark_read(session: Session, cmd: m.MarkRead) -> m.Reply:
    ids = [int(i) for i in cmd.notification_ids if i.isdigit()]
    stmt = select(Notification).where(Notification.party == cmd.party)
    if ids:
        stmt = stmt.where(Notification.id.in_(ids))  # type: ignore[union-attr]
    changed = 0
    for n in session.exec(stmt):
        if not n.read:
            n.read = True
            session.add(n)
            changed += 1
    return m.Reply.success(marked=changed)
