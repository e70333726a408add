"""Use cases of the matcher service, one transaction each: requests in, decisions back.

The matcher keeps a copy of the reference data the contracts service publishes, owns the
requests and its proposals, and remembers every (request, expert) pair that was declined or
rejected so it never proposes it again. Planning itself is in `planner`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from services.matcher.db import (
    ContractCopy,
    Exclusion,
    ExpertCopy,
    PlanRun,
    Proposal,
    RequestRow,
    TravelCopy,
    UnitCopy,
)
from shared import assignment as sm
from shared import messages as m
from shared import subjects as s
from shared.bus import NotYet, Rejected
from shared.clock import utcnow
from shared.db import add_event, in_order, table_of
from shared.limits import NOTES, PLAN_INPUT_CHUNK
from shared.scenario import Expert, TravelTime, Unit
from shared.security.credentials import Actor
from shared.statuses import FINISHED, HELD, LIVE, RequestStatus

log = structlog.get_logger("matcher")


# ------------------------------------------------------------------ commands
def submit_request(session: Session, cmd: m.SubmitRequest, actor: Actor, *, today: dt.date) -> m.Reply[m.RequestState]:
    r = cmd.request
    record = r.model_dump(mode="json")
    existing = session.get(RequestRow, r.id)
    check_request(r, record, unit_known=session.get(UnitCopy, r.unit) is not None, existing=existing, today=today)
    if existing is not None:
        return m.Reply.of(m.RequestState(request_id=r.id, status=existing.status))
    session.add(
        RequestRow(id=r.id, unit_id=r.unit, record=record, submitted_by=actor.label, correlation_id=cmd.correlation_id)
    )
    add_event(session, s.REQUEST_SUBMITTED, cmd.caused(m.RequestSubmitted, request=r, by=actor.label))
    return m.Reply.of(m.RequestState(request_id=r.id, status="open"))


def check_request(
    r: m.Request, record: dict[str, object], *, unit_known: bool, existing: RequestRow | None, today: dt.date
) -> None:
    """A request is taken for a unit the matcher knows, with a deadline not past, under an id not
    used by another request (the same request again is answered as it stands)."""
    if not unit_known:
        raise Rejected(f"unknown unit {r.unit!r}", "request.unit", code=m.Refusal.UNKNOWN_UNIT)
    if r.deadline < today:
        raise Rejected(f"deadline {r.deadline} is already past (today is {today})", "request.deadline")
    if existing is not None and existing.record != record:
        raise Rejected(f"request id {r.id!r} is already used by another request", "request.id")


def submit_requests(
    session: Session, cmd: m.SubmitRequests, actor: Actor, *, today: dt.date
) -> m.Reply[m.SubmitResults]:
    """Many requests in one short transaction, each taken or refused as `submit_request` would
    alone (`check_request`) and answered in its place: one bad row of a load or a spreadsheet
    never holds back the others. Two reads for the whole batch (its units, its ids already
    used), one insert for its requests and one event for all it took (`RequestsSubmitted`)."""
    batch = cmd.requests
    units = set(session.exec(select(UnitCopy.id).where(col(UnitCopy.id).in_({r.unit for r in batch}))))
    existing = {
        row.id: row for row in session.exec(select(RequestRow).where(col(RequestRow.id).in_([r.id for r in batch])))
    }
    results: list[m.SubmitResult] = []
    rows: list[dict[str, object]] = []
    events: list[m.RequestSubmitted] = []
    now = utcnow()
    for i, r in enumerate(batch):
        record = r.model_dump(mode="json")
        try:
            check_request(r, record, unit_known=r.unit in units, existing=existing.get(r.id), today=today)
        except Rejected as err:
            field = f"requests[{i}].{(err.field or '').removeprefix('request.')}".rstrip(".")
            results.append(m.SubmitResult(id=r.id, ok=False, error=err.message, field=field))
            continue
        if r.id in existing:
            results.append(m.SubmitResult(id=r.id, ok=True, status=existing[r.id].status))
            continue
        existing[r.id] = RequestRow(id=r.id, unit_id=r.unit, record=record)  # a repeat later in the batch
        rows.append(
            dict(
                id=r.id,
                unit_id=r.unit,
                record=record,
                status=RequestStatus.OPEN,
                reason_code="",
                reason="",
                submitted_by=actor.label,
                correlation_id=cmd.correlation_id,
                submitted_at=now,
            )
        )
        events.append(cmd.caused(m.RequestSubmitted, request=r, by=actor.label))
        results.append(m.SubmitResult(id=r.id, ok=True, status="open"))
    if rows:
        session.execute(insert(table_of(RequestRow)), rows)
        add_event(session, s.REQUESTS_SUBMITTED, cmd.caused(m.RequestsSubmitted, submitted=events))
    taken = sum(1 for x in results if x.ok)
    return m.Reply.of(m.SubmitResults(taken=taken, refused=len(results) - taken, results=results))


def cancel_request(session: Session, cmd: m.CancelRequest, actor: Actor) -> m.Reply[m.RequestState]:
    row = lock_request(session, cmd.request_id)
    if row is None:
        raise Rejected(f"unknown request {cmd.request_id!r}", "request_id")
    if row.status in FINISHED:
        raise Rejected(f"request {row.id} is already {row.status}", "request_id")
    row.status = RequestStatus.CANCELLED
    for p in _proposals(session, row.id, *LIVE):
        move(session, p.id, sm.S.CANCELLED, LIVE)
    session.add(row)
    add_event(
        session,
        s.REQUEST_CANCELLED,
        cmd.caused(m.RequestCancelled, request_id=row.id, unit_id=row.unit_id, by=actor.label, reason=cmd.reason),
    )
    return m.Reply.of(m.RequestState(request_id=row.id, status=row.status))


def the_unit(session: Session, cmd: m.SubmitRequest | m.CancelRequest, actor: Actor) -> None:
    """Ownership: a commune submits and cancels its own unit's requests only; staff any (a load,
    a request taken by phone)."""
    if actor.is_staff():
        return
    if isinstance(cmd, m.SubmitRequest):
        unit: str | None = cmd.request.unit
    else:
        row = session.get(RequestRow, cmd.request_id)
        unit = row.unit_id if row is not None else None
    if unit is None or actor.party_id("unit") != unit:
        raise Rejected(
            f"you act as {actor.party}; a commune acts only for its own unit's requests",
            "request.unit" if isinstance(cmd, m.SubmitRequest) else "request_id",
            code=m.Refusal.NOT_YOURS,
        )


def the_units(session: Session, cmd: m.SubmitRequests, actor: Actor) -> None:
    """Ownership: a commune submits many requests for its own unit only (every one of them, else
    the whole command is refused); staff for any unit (a load, a spreadsheet)."""
    if actor.is_staff():
        return
    mine = actor.party_id("unit")
    for i, r in enumerate(cmd.requests):
        if mine != r.unit:
            raise Rejected(
                f"you act as {actor.party}; a commune acts only for its own unit's requests",
                f"requests[{i}].unit",
                code=m.Refusal.NOT_YOURS,
            )


# ------------------------------------------------------------------ reference data copies
def copy_unit(session: Session, evt: m.UnitRegistered) -> None:
    _put_unit(session, evt.unit, session.get(UnitCopy, evt.unit.id))


def copy_travel(session: Session, evt: m.TravelRegistered) -> None:
    _put_travel(session, evt.pairs)


def copy_expert(session: Session, evt: m.ExpertRegistered) -> None:
    _put_expert(session, evt.expert, session.get(ExpertCopy, evt.expert.id))


def copy_reference(session: Session, evt: m.ReferenceRegistered) -> None:
    """A chunk of a registration in this one short transaction: its units, travel, experts, then
    its contracts and their balances, each by the same rules as its single event (a contract by
    its revision, a balance as the next of its contract). One read per kind for the chunk."""
    # Locked as `copy_balance` locks them (contracts, then experts), read once for the chunk.
    contract_ids = [c.contract.id for c in evt.contracts] + [b.contract_id for b in evt.balances]
    contracts = _rows(session, ContractCopy, contract_ids)
    experts = _rows(session, ExpertCopy, [e.id for e in evt.experts] + [b.expert_id for b in evt.balances])
    units = _rows(session, UnitCopy, [u.id for u in evt.units])
    for u in evt.units:
        units[u.id] = _put_unit(session, u, units.get(u.id))
    _put_travel(session, evt.travel_minutes)
    for e in evt.experts:
        experts[e.id] = _put_expert(session, e, experts.get(e.id))
    for c in evt.contracts:
        row = contracts.get(c.contract.id)
        contracts[c.contract.id] = _copy_contract(session, c.contract, c.status, c.revision, row)
    for b in evt.balances:
        _apply_balance(session, b, contracts.get(b.contract_id), experts.get(b.expert_id))


def _rows(session: Session, model: Any, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    stmt = select(model).where(model.id.in_(sorted(set(ids)))).order_by(model.id).with_for_update()
    return {r.id: r for r in session.exec(stmt)}


def _put_unit(session: Session, unit: Unit, row: UnitCopy | None) -> UnitCopy:
    """The copy of a unit, its row read already (None: there is none)."""
    record = unit.model_dump(mode="json", by_alias=True)
    row = row or UnitCopy(id=unit.id, record=record)
    row.record = record
    session.add(row)
    return row


def _put_travel(session: Session, pairs: list[TravelTime]) -> None:
    for t in pairs:
        session.merge(TravelCopy(from_unit=t.from_unit, to_unit=t.to_unit, minutes=t.minutes))


def _put_expert(session: Session, expert: Expert, row: ExpertCopy | None) -> ExpertCopy:
    row = row or ExpertCopy(id=expert.id, record={})
    row.record = expert.model_dump(mode="json")
    session.add(row)
    return row


def _copy_contract(
    session: Session, contract: m.Contract, status: str, revision: int, row: ContractCopy | None
) -> ContractCopy:
    """Keep the newest state: events of two subjects may arrive out of order, the revision tells.
    Status and revision ride in the record; the engine's format ignores them. `row`: the copy
    read already (None: there is none)."""
    row = row or ContractCopy(id=contract.id, record={})
    if row.record and row.record.get("revision", 0) > revision:
        return row
    row.record = {**contract.model_dump(mode="json"), "status": status, "revision": revision}
    session.add(row)
    return row


def copy_contract(session: Session, evt: m.ContractRegistered) -> None:
    _copy_contract(session, evt.contract, evt.status, evt.revision, session.get(ContractCopy, evt.contract.id))


def copy_contract_status(session: Session, evt: m.ContractStatusChanged) -> None:
    _copy_contract(session, evt.contract, evt.status, evt.revision, session.get(ContractCopy, evt.contract.id))


def copy_balance(session: Session, evt: m.BalanceChanged) -> None:
    """Balances are absolute and consumed in concurrent batches: one older than the balance last
    applied (or the same again) would plan with hours and money already given away, so it is
    dropped. An event of an earlier version has no revision and counts as 0 (older than any that
    has one). The expert's total hours follow the expert's own revision, since several contracts
    carry it.

    The contracts service numbers each contract's balances 1, 2, 3... (every publish is one step,
    `lifecycle.publish_balance`), so a balance is adopted only as the next of its contract: one that
    jumps ahead (a revision in between not applied yet) waits for the ones before it (NotYet, then
    a dead letter with the reason if they never come). A forged balance with a huge revision is
    never adopted, and cannot lock the contract's later, true balances out."""
    contract = session.get(ContractCopy, evt.contract_id, with_for_update=True)
    expert = session.get(ExpertCopy, evt.expert_id, with_for_update=True) if contract is not None else None
    _apply_balance(session, evt, contract, expert)


def _apply_balance(
    session: Session, evt: m.BalanceChanged, contract: ContractCopy | None, expert: ExpertCopy | None
) -> None:
    if contract is None:
        raise NotYet(f"balance for contract {evt.contract_id!r}, not registered here yet")
    if expert is None:  # its total would be lost: a later, older one would then be applied over it
        raise NotYet(f"balance for expert {evt.expert_id!r}, not registered here yet")
    revision, applied = evt.revision or 0, contract.balance_revision or 0
    if evt.revision is None and applied == 0:
        pass  # an earlier version's event, and nothing numbered applied yet: taken as before
    elif revision <= applied:
        return
    elif revision != applied + 1:
        raise NotYet(
            f"balance revision {revision} of contract {evt.contract_id!r} follows {applied}: "
            f"waiting for revision {applied + 1}"
        )
    contract.balance_revision = revision
    contract.hours_used = evt.hours_used
    contract.budget_used_vnd = evt.budget_used_vnd
    contract.active_assignments = evt.active_assignments
    contract.counted = ",".join(evt.counted)
    session.add(contract)
    # The expert's total is numbered across its contracts: a newer one may have come with another
    # contract's balance. Without an expert revision (an earlier version), the contract's order holds.
    if evt.expert_revision is None or evt.expert_revision >= (expert.booking_revision or 0):
        expert.committed_hours = evt.expert_committed_hours
        expert.booking_revision = evt.expert_revision if evt.expert_revision is not None else expert.booking_revision
        session.add(expert)


# ------------------------------------------------------------------ decisions
# Lock order for every writer here: the request row first, then its proposals (conditional
# UPDATEs), so a re-plan's `write` and these handlers queue instead of deadlocking.
def _proposals(session: Session, request_id: str, *states: str) -> list[Proposal]:
    stmt = select(Proposal).where(Proposal.request_id == request_id, col(Proposal.status).in_(states))
    return list(session.exec(stmt))


def lock_request(session: Session, request_id: str) -> RequestRow | None:
    return session.get(RequestRow, request_id, with_for_update=True)


def move(
    session: Session, assignment_id: str, target: sm.Status, sources: tuple[sm.Status, ...], *, sync: bool = True
) -> bool:
    """One conditional move of a proposal; False when it was not in one of `sources` (someone
    else moved it first, or the move would go backwards). `sync=False`: the session's copies of
    proposals are not brought up to date (a plan's write, which reads none of them afterwards)."""
    stmt = (
        update(Proposal)
        .where(col(Proposal.id) == assignment_id, col(Proposal.status).in_(sources))
        .values(status=target)
        .execution_options(synchronize_session="fetch" if sync else False)
    )
    return bool(session.exec(stmt).rowcount)


def withdraw(session: Session, p: Proposal, cause: m.Message, reason: str, *, sync: bool = True) -> bool:
    """Withdraw a proposal only while it is still pending: an approval (or any decision) that
    landed since it was read is never overwritten. Contracts is told only when it happened."""
    if not move(session, p.id, sm.S.WITHDRAWN, sm.sources(sm.S.WITHDRAWN), sync=sync):
        return False
    add_event(
        session,
        s.ASSIGNMENT_WITHDRAWN,
        cause.caused(
            m.AssignmentWithdrawn, assignment_id=p.id, request_id=p.request_id, expert_id=p.expert_id, reason=reason
        ),
    )
    return True


def follow(session: Session, evt: m.AssignmentDecision, target: sm.Status) -> bool:
    """Apply contracts' news that an assignment is now `target`, forward only. Contracts decides:
    an approval of a proposal this service had withdrawn meanwhile wins, and any other pending
    proposal of that slot is withdrawn (a slot holds one live proposal)."""
    lock_request(session, evt.request_id)
    p = session.get(Proposal, evt.assignment_id)
    if p is None or p.status not in sm.overwrites(target):
        log.info("assignment_event_ignored", assignment_id=evt.assignment_id, status=p and p.status, news=target)
        return False
    if target in HELD:
        for other in _slot_live(session, p.request_id, p.slot):
            if other.id == p.id:
                continue
            if other.status in HELD:
                log.error("slot_held_twice", assignment_id=p.id, other=other.id, request_id=p.request_id)
                return False
            withdraw(session, other, evt, f"contracts approved {p.id} for this slot")
    return move(session, p.id, target, sm.overwrites(target))


def _slot_live(session: Session, request_id: str, slot: int) -> list[Proposal]:
    stmt = select(Proposal).where(
        Proposal.request_id == request_id,
        Proposal.slot == slot,
        col(Proposal.status).in_(LIVE),
    )
    return list(session.exec(stmt))


def refresh_request(session: Session, request_id: str) -> None:
    """A request's status follows its proposals: open, proposed, approved, accepted."""
    from services.matcher.proposals import request_status

    row = session.get(RequestRow, request_id)
    if row is None or row.status in FINISHED:
        return
    slots = len(m.Request.model_validate(row.record).effective_slots())
    row.status = request_status(slots, [p.status for p in _proposals(session, request_id, *LIVE)])
    session.add(row)


def on_approved(session: Session, evt: m.AssignmentApproved) -> None:
    follow(session, evt, sm.S.APPROVED)
    refresh_request(session, evt.request_id)


def on_accepted(session: Session, evt: m.AssignmentAccepted) -> None:
    follow(session, evt, sm.S.ACCEPTED)
    refresh_request(session, evt.request_id)


def _exclude(session: Session, evt: m.AssignmentDecision, status: sm.Status, reason: str) -> None:
    """A declined or rejected pair is never proposed again; the request goes back to matching."""
    follow(session, evt, status)
    session.merge(Exclusion(request_id=evt.request_id, expert_id=evt.expert_id, reason=reason[:500]))
    row = session.get(RequestRow, evt.request_id)
    if row is not None:  # the next proposal for it answers this decision
        row.correlation_id = evt.correlation_id
        session.add(row)
    refresh_request(session, evt.request_id)


def on_rejected(session: Session, evt: m.AssignmentRejected) -> None:
    _exclude(session, evt, sm.S.REJECTED, f"rejected by {evt.by}: {evt.reason}")


def on_declined(session: Session, evt: m.AssignmentDeclined) -> None:
    _exclude(session, evt, sm.S.DECLINED, f"declined: {evt.reason}")


def on_cancelled(session: Session, evt: m.AssignmentCancelled) -> None:
    follow(session, evt, sm.S.CANCELLED)
    refresh_request(session, evt.request_id)


def on_completed(session: Session, evt: m.RequestCompleted) -> None:
    """Each assignment the completion closed ends as contracts says (completed or cancelled, from
    any status before it, even one whose acceptance has not arrived yet); the request's other
    live proposals are cancelled."""
    row = lock_request(session, evt.request_id)
    if row is None:
        raise Rejected(f"completion of unknown request {evt.request_id!r}", "request_id")
    row.status = RequestStatus.COMPLETED
    session.add(row)
    done = {a.assignment_id for a in evt.assignments}
    if evt.completed is not None:
        completed = set(evt.completed)
    else:  # an event of an earlier version: the accepted ones were completed
        completed = {p.id for p in _proposals(session, evt.request_id, sm.S.ACCEPTED) if p.id in done}
    for aid in sorted(done):
        target = sm.S.COMPLETED if aid in completed else sm.S.CANCELLED
        move(session, aid, target, sm.overwrites(target))
    for p in _proposals(session, evt.request_id, *LIVE):
        if p.id not in done:
            move(session, p.id, sm.S.CANCELLED, LIVE)


# ------------------------------------------------------------------ queries
def status(session: Session, q: m.GetRequests) -> m.Reply[m.MatcherStatus]:
    """Requests (narrowed by unit, request, status; the newest `limit`) and their proposals."""
    query = select(RequestRow)
    if q.unit_id is not None:
        query = query.where(RequestRow.unit_id == q.unit_id)
    if q.request_ids is not None:
        query = query.where(col(RequestRow.id).in_(q.request_ids))
    if q.statuses:
        query = query.where(col(RequestRow.status).in_(q.statuses))
    rows = in_order(session, query, (RequestRow.submitted_at, RequestRow.id), q.limit, q.oldest_first)
    narrowed = q.unit_id is not None or q.request_ids is not None or q.statuses or q.limit
    proposals_query = select(Proposal).order_by(col(Proposal.created_at), col(Proposal.id))
    if narrowed:
        proposals_query = proposals_query.where(col(Proposal.request_id).in_([r.id for r in rows]))
    return m.Reply.of(
        m.MatcherStatus(
            requests=[request_view(r) for r in rows],
            proposals=[m.ProposalView.model_validate(p.model_dump()) for p in session.exec(proposals_query)],
            counts=counts(session),
            truncated=q.limit is not None and len(rows) == q.limit,
        )
    )


def request_view(r: RequestRow) -> m.RequestView:
    return m.RequestView(
        id=r.id,
        unit=r.unit_id,
        title=r.record["title"],
        priority=r.record["priority"],
        hours=r.record["hours"],
        mode=r.record["mode"],
        deadline=r.record["deadline"],
        status=r.status,
        reason_code=r.reason_code,
        reason=r.reason,
    )


def counts(session: Session) -> m.MatcherCounts:
    """What the matcher holds in all, whatever the question narrowed."""
    return m.MatcherCounts(
        units=session.exec(select(func.count()).select_from(UnitCopy)).one(),
        experts=session.exec(select(func.count()).select_from(ExpertCopy)).one(),
        contracts=session.exec(select(func.count()).select_from(ContractCopy)).one(),
        requests=session.exec(select(func.count()).select_from(RequestRow)).one(),
    )


def plan_input(session: Session, q: m.GetPlanInput) -> m.Reply[m.PlanInputView]:
    """What the solver planned from: the audit trail names it by digest, this returns it in
    pieces one NATS message carries (`next_offset` says where the next starts, None at the end)."""
    run = session.exec(select(PlanRun).where(PlanRun.input_sha256 == q.sha256).limit(1)).first()
    if run is None:
        raise Rejected(f"no plan was made from an input with digest {q.sha256}", "sha256")
    end = min(len(run.scenario), q.offset + PLAN_INPUT_CHUNK)
    notes = run.overcommitted or []
    return m.Reply.of(
        m.PlanInputView(
            sha256=run.input_sha256,
            scenario=run.scenario[q.offset : end],
            offset=q.offset,
            total_chars=len(run.scenario),
            next_offset=end if end < len(run.scenario) else None,
            status=run.status,
            created_at=run.created_at.isoformat(),
            overcommitted=notes[:NOTES],
            truncated=len(notes) > NOTES,
        )
    )
