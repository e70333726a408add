"""Who hears of what: one use case per event, each writing the inbox in one transaction.

Every notification is keyed by (event id, party, kind), so a redelivered or duplicated event
adds nothing twice. Names come from the party directory, so people read "Xã Thượng Lâm", not ids.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from services.notifier.db import AnswerWatch, ContractWatch, LowBalanceAlert, Party
from services.notifier.directory import Directory
from services.notifier.directory import name as _name
from services.notifier.inbox import InLanguage, Note, notify, tell
from services.notifier.templates import dong
from services.notifier.watch import close
from shared import messages as m
from shared.parties import STAFF, expert_party, unit_party
from shared.rules import render, violation
from shared.scenario import Contract


# ------------------------------------------------------------------ the directory
def remember_unit(session: Session, evt: m.UnitRegistered) -> None:
    session.merge(Party(id=unit_party(evt.unit.id), name=evt.unit.name, language="vi"))


def remember_expert(session: Session, evt: m.ExpertRegistered) -> None:
    langs = evt.expert.languages
    language = "en" if "en" in langs and "vi" not in langs else "vi"
    session.merge(Party(id=expert_party(evt.expert.id), name=evt.expert.name, language=language))


def reference_registered(session: Session, evt: m.ReferenceRegistered, *, ratio: float = 0.10) -> None:
    """A chunk of a registration: each unit, expert, contract and balance as its single event
    would have been, in one transaction."""
    for u in evt.units:
        remember_unit(session, evt.caused(m.UnitRegistered, unit=u))
    for e in evt.experts:
        remember_expert(session, evt.caused(m.ExpertRegistered, expert=e))
    for c in evt.contracts:
        contract_registered(session, c)
    for b in evt.balances:
        balance_changed(session, b, ratio=ratio)


# ------------------------------------------------------------------ requests and proposals
def _unit(evt: Any) -> str:
    """The commune of an assignment event (a proposal carries its whole request)."""
    return str(getattr(evt, "unit_id", None) or evt.request.unit)


def _about(known: Directory, evt: Any) -> dict[str, Any]:
    """The fields every assignment template may use."""
    unit, expert = _unit(evt), evt.expert_id
    return dict(
        assignment_id=evt.assignment_id,
        request_id=getattr(evt, "request_id", None) or evt.request.id,
        title=evt.title if hasattr(evt, "title") else evt.request.title,
        unit_name=known.name(unit_party(unit)),
        expert_name=known.name(expert_party(expert)),
        expert_id=expert,
    )


def _tell_about(session: Session, evt: Any, kinds: list[tuple[str, str]], **extra: Any) -> None:
    """Tell each (party, kind) of an assignment event, the parties and the names read at once."""
    known = Directory.read(session, [*(p for p, _ in kinds), unit_party(_unit(evt)), expert_party(evt.expert_id)])
    fields = dict(_about(known, evt), **extra)
    tell(session, evt, [Note(party, kind, fields) for party, kind in kinds], known)


def request_submitted(session: Session, evt: m.RequestSubmitted) -> None:
    r = evt.request
    notify(
        session,
        evt,
        unit_party(r.unit),
        "request_received",
        request_id=r.id,
        title=r.title,
        hours=float(r.hours),
        deadline=r.deadline,
        unit_name=_name(session, unit_party(r.unit)),
    )


def requests_submitted(session: Session, evt: m.RequestsSubmitted) -> None:
    """A bulk submission: each request's commune told as for a single one, in one transaction."""
    for one in evt.submitted:
        request_submitted(session, one)


def assignment_proposed(session: Session, evt: m.AssignmentProposed) -> None:
    """Staff: a proposal waits; the commune: an expert was found; with a trainee, the commune and
    the trainee hear of the learning too. One read of the directory for all of them: a re-plan
    sends hundreds of these at once, and a new request's proposal waits behind them."""
    unit = unit_party(evt.request.unit)
    trainee = expert_party(evt.trainee_id) if evt.trainee_id else None
    known = Directory.read(session, [STAFF, unit, expert_party(evt.expert_id), *([trainee] if trainee else [])])
    why = evt.explanation.get("summary") or evt.explanation.get("why") or ""
    fields = dict(
        _about(known, evt),
        mode=evt.mode,
        hours=evt.minutes / 60,
        cost=dong(evt.cost_vnd),
        why=why or "-",
        deadline=evt.request.deadline,
    )
    notes = [Note(STAFF, "proposal_waiting", fields), Note(unit, "request_matched", fields)]
    if trainee:  # a community member of the commune learning beside the expert
        learner = dict(fields, hours=evt.trainee_minutes / 60, trainee_name=evt.trainee_name or known.name(trainee))
        notes += [Note(unit, "trainee_proposed", learner), Note(trainee, "trainee_proposed", learner)]
    tell(session, evt, notes, known)


def plan_overcommitted(session: Session, evt: m.PlanOvercommitted) -> None:
    """Staff told what no longer fits: the notes about rules worded from the rules' catalogue in
    staff's language; an event of an earlier version (its notes only, in English) as it came."""
    if not (evt.broken or evt.remarks):
        notify(session, evt, STAFF, "plan_overcommitted", notes=_bullets(evt.notes))
        return
    found = [v for v in map(violation, evt.broken) if v is not None]
    notes = InLanguage(
        vi=_bullets([render(v, "vi") for v in found] + evt.remarks),
        en=_bullets([render(v, "en") for v in found] + evt.remarks),
    )
    notify(session, evt, STAFF, "plan_overcommitted", notes=notes)


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"• {n}" for n in lines)


def request_unmatched(session: Session, evt: m.RequestUnmatched) -> None:
    fields = dict(
        request_id=evt.request_id,
        title=evt.title or evt.request_id,
        unit_name=_name(session, unit_party(evt.unit_id)),
        reason=evt.reason,
    )
    notify(session, evt, unit_party(evt.unit_id), "request_unmatched", **fields)
    notify(session, evt, STAFF, "request_unmatched", **fields)


# ------------------------------------------------------------------ decisions
def approved(session: Session, evt: m.AssignmentApproved) -> None:
    _tell_about(
        session,
        evt,
        [(expert_party(evt.expert_id), "task_new"), (unit_party(evt.unit_id), "request_approved")],
        mode=evt.mode,
        hours=evt.hours,
        deadline=evt.deadline,
    )
    if session.get(AnswerWatch, evt.assignment_id) is None:
        session.add(
            AnswerWatch(
                assignment_id=evt.assignment_id,
                expert_id=evt.expert_id,
                unit_id=evt.unit_id,
                request_id=evt.request_id,
                title=evt.title or evt.request_id,
                mode=evt.mode,
                hours=evt.hours,
                deadline=evt.deadline,
                correlation_id=evt.correlation_id,
                approved_at=evt.occurred_at,
            )
        )


def accepted(session: Session, evt: m.AssignmentAccepted) -> None:
    close(session, evt)
    _tell_about(session, evt, [(unit_party(evt.unit_id), "task_accepted"), (STAFF, "task_accepted")])


def declined(session: Session, evt: m.AssignmentDeclined) -> None:
    watched = session.get(AnswerWatch, evt.assignment_id)
    if watched is None or watched.stage != "declining":  # else the clock closes it and tells the expert
        close(session, evt)
    _tell_about(
        session,
        evt,
        [(unit_party(evt.unit_id), "task_declined"), (STAFF, "task_declined")],
        reason=evt.reason or "-",
    )


def cancelled(session: Session, evt: m.AssignmentCancelled) -> None:
    close(session, evt)
    _tell_about(session, evt, [(expert_party(evt.expert_id), "task_cancelled")], reason=evt.reason or "-")


def hours_logged(session: Session, evt: m.HoursLogged) -> None:
    _tell_about(
        session,
        evt,
        [(unit_party(evt.unit_id), "hours_logged")],
        hours=evt.minutes / 60,
        total_hours=evt.total_minutes / 60,
    )


def hours_flagged(session: Session, evt: m.HoursFlagged) -> None:
    """Hours past the reservation are charged only once staff approve them: staff must hear of it."""
    _tell_about(
        session,
        evt,
        [(STAFF, "hours_flagged")],
        contract_id=evt.contract_id,
        logged_hours=(evt.logged_minutes + evt.minutes) / 60,
        reserved_hours=evt.reserved_minutes / 60,
        extra_hours=evt.minutes / 60,
    )


def completed(session: Session, evt: m.RequestCompleted) -> None:
    unit_name = _name(session, unit_party(evt.unit_id))
    title = evt.assignments[0].title if evt.assignments else evt.request_id
    fields = dict(request_id=evt.request_id, title=title, unit_name=unit_name)
    parties = [unit_party(evt.unit_id), STAFF, *(expert_party(a.expert_id) for a in evt.assignments)]
    for party in dict.fromkeys(parties):
        notify(session, evt, party, "request_completed", **fields)
    for a in evt.assignments:
        close(session, a)


# ------------------------------------------------------------------ contracts
def _watch_contract(session: Session, c: Contract, status: str, revision: int) -> None:
    row = session.get(ContractWatch, c.id)
    if row is not None and row.revision > revision:
        return  # an older copy arriving late (events of two subjects are not ordered)
    row = row or ContractWatch(contract_id=c.id, expert_id=c.expert, end=c.end)
    row.expert_id, row.end, row.status, row.revision = c.expert, c.end, status, revision
    session.add(row)


def contract_registered(session: Session, evt: m.ContractRegistered) -> None:
    _watch_contract(session, evt.contract, evt.status, evt.revision)


def contract_status_changed(session: Session, evt: m.ContractStatusChanged) -> None:
    _watch_contract(session, evt.contract, evt.status, evt.revision)


def balance_changed(session: Session, evt: m.BalanceChanged, *, ratio: float = 0.10) -> None:
    """Tell staff once when a contract falls under `ratio` of its hours or budget, again only after
    it has recovered and fallen again."""
    hours_left = (evt.hours_cap or 0) - evt.hours_used
    budget_left = None if evt.budget_cap_vnd is None else evt.budget_cap_vnd - evt.budget_used_vnd
    low = (evt.hours_cap is not None and hours_left < ratio * evt.hours_cap) or (
        budget_left is not None and evt.budget_cap_vnd and budget_left < ratio * evt.budget_cap_vnd
    )
    state = session.get(LowBalanceAlert, evt.contract_id) or LowBalanceAlert(contract_id=evt.contract_id)
    if low and not state.low:
        notify(
            session,
            evt,
            STAFF,
            "balance_low",
            contract_id=evt.contract_id,
            expert_name=_name(session, expert_party(evt.expert_id)),
            hours_left=float(hours_left),
            hours_cap=float(evt.hours_cap or 0),
            budget_left=dong(budget_left),
        )
    state.low = bool(low)
    session.add(state)
