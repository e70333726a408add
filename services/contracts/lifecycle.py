"""A contract's lifecycle and what the matcher is told about it.

    draft --activate--> active <--resume/suspend--> suspended
    active <--(system: nothing left / room again)--> exhausted
    any but expired/terminated --(system: past its last day)--> expired
    any but expired/terminated --terminate (with a reason)--> terminated

Only an active contract takes a new reservation (the ledger's conditional UPDATE checks it).
Suspension and expiry stop new work and leave agreed work alone; termination also cancels the
work not yet done under it and releases what it reserved. Each change bumps the contract's
revision, is audited and published as `ContractStatusChanged`; every balance change is published
as `BalanceChanged`. Those two events are all the matcher knows of a contract's state.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import Session, col, select

from services.contracts import assignments as asg
from services.contracts import audit, ledger
from services.contracts.db import AssignmentRow, ContractRow, ExpertRow
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import add_event
from shared.security.credentials import Actor
from shared.statuses import HELD
from shared.statuses import AssignmentStatus as A
from shared.statuses import ContractStatus as C

TERMINAL = (C.EXPIRED, C.TERMINATED)
# Staff moves: the target and the statuses it may be reached from.
STAFF_MOVES = {
    C.ACTIVE: (C.DRAFT, C.SUSPENDED),
    C.SUSPENDED: (C.ACTIVE, C.EXHAUSTED),
    C.TERMINATED: (C.DRAFT, C.ACTIVE, C.SUSPENDED, C.EXHAUSTED),
}


def has_room(c: ContractRow) -> bool:
    budget_left = c.budget_cap_vnd is None or c.budget_cap_vnd - c.used_vnd > 0
    return c.cap_minutes - c.used_minutes > 0 and budget_left


def set_status(session: Session, c: ContractRow, new: str, *, by: Actor, reason: str, cause: m.Message) -> None:
    old = c.status
    c.status, c.status_reason, c.revision = new, reason, c.revision + 1
    session.add(c)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="contract_status",
        subject=f"contract:{c.id}",
        before={"status": old},
        after={"status": new},
        detail={"reason": reason, "revision": c.revision},
        correlation_id=cause.correlation_id,
    )
    add_event(
        session,
        s.CONTRACT_STATUS_CHANGED,
        cause.caused(
            m.ContractStatusChanged,
            contract_id=c.id,
            expert_id=c.expert_id,
            status=new,
            previous=old,
            by=by.label,
            reason=reason,
            revision=c.revision,
            contract=c.record,
        ),
    )


def settle(session: Session, c: ContractRow, cause: m.Message) -> None:
    """Exhausted when nothing is left to give; active again when a release frees room."""
    if c.status == C.ACTIVE and not has_room(c):
        set_status(session, c, C.EXHAUSTED, by=asg.LEDGER, reason="no hours or budget left", cause=cause)
    elif c.status == C.EXHAUSTED and has_room(c):
        set_status(session, c, C.ACTIVE, by=asg.LEDGER, reason="room freed", cause=cause)


def publish_balance(session: Session, cause: m.Message, contract: ContractRow | None) -> None:
    """Publish the contract's balance under a new balance revision. The bump is an UPDATE in the
    ledger change's transaction: on PostgreSQL it waits for the row lock of any concurrent change,
    so revisions follow the order the balances were committed in."""
    add_event(session, s.BALANCE_CHANGED, next_balance(session, cause, contract))


def next_balance(session: Session, cause: m.Message, contract: ContractRow | None) -> m.BalanceChanged:
    """The contract's balance under its next balance revision (and the expert's next booking
    revision), not published: `publish_balance` publishes it alone, a registration in its chunk."""
    assert contract is not None
    row = ContractRow
    session.execute(update(row).where(col(row.id) == contract.id).values(balance_revision=row.balance_revision + 1))
    session.refresh(contract)
    settle(session, contract, cause)
    # The expert's total spans its contracts: its own revision, bumped under the expert's row lock.
    session.execute(
        update(ExpertRow)
        .where(col(ExpertRow.id) == contract.expert_id)
        .values(booking_revision=ExpertRow.booking_revision + 1)
    )
    expert = session.get(ExpertRow, contract.expert_id)
    if expert is not None:
        session.refresh(expert)
    counted = session.exec(
        select(AssignmentRow.id).where(AssignmentRow.contract_id == contract.id, col(AssignmentRow.status).in_(HELD))
    )
    return _balance(cause, contract, expert, sorted(counted))


def next_balances(session: Session, cause: m.Message, contracts: list[ContractRow]) -> list[m.BalanceChanged]:
    """`next_balance` of many contracts at once (a registration's chunk), for rows this transaction
    has locked, with their experts (`asg.lock_in_order`): the revisions are bumped on the rows
    read under those locks, and the live assignments are read in one query for all of them."""
    ids = [c.id for c in contracts]
    live: dict[str, list[str]] = {i: [] for i in ids}
    for aid, cid in session.exec(
        select(AssignmentRow.id, AssignmentRow.contract_id).where(
            col(AssignmentRow.contract_id).in_(ids), col(AssignmentRow.status).in_(HELD)
        )
    ):
        live[cid].append(aid)
    wanted = sorted({c.expert_id for c in contracts})
    experts = {e.id: e for e in session.exec(select(ExpertRow).where(col(ExpertRow.id).in_(wanted)))}
    out = []
    for contract in contracts:
        contract.balance_revision += 1
        settle(session, contract, cause)
        expert = experts.get(contract.expert_id)
        if expert is not None:
            expert.booking_revision += 1
            session.add(expert)
        session.add(contract)
        out.append(_balance(cause, contract, expert, sorted(live[contract.id])))
    return out


def _balance(cause: m.Message, contract: ContractRow, expert: ExpertRow | None, counted: list[str]) -> m.BalanceChanged:
    booked = (expert.committed_minutes + expert.booked_minutes) if expert else 0
    return cause.caused(
        m.BalanceChanged,
        contract_id=contract.id,
        expert_id=contract.expert_id,
        hours_used=contract.used_minutes / 60,
        budget_used_vnd=contract.used_vnd,
        active_assignments=contract.active_before + contract.active_count,
        expert_committed_hours=booked / 60,
        hours_cap=contract.cap_minutes / 60,
        budget_cap_vnd=contract.budget_cap_vnd,
        end=contract.ends_on,
        revision=contract.balance_revision,
        expert_revision=expert.booking_revision if expert else None,
        counted=counted,
    )


def change_status(
    session: Session, cmd: m.ChangeContractStatus, actor: Actor, *, today: dt.date
) -> m.Reply[m.ContractMoved]:
    # The lock order of `assignments`: the contract's live assignments before the contract itself.
    live = select(AssignmentRow.id).where(
        AssignmentRow.contract_id == cmd.contract_id, col(AssignmentRow.status).in_(HELD)
    )
    asg.lock_in_order(session, assignments=session.exec(live), contracts=[cmd.contract_id])
    c = session.get(ContractRow, cmd.contract_id, with_for_update=True)
    if c is None:
        raise Rejected(f"unknown contract {cmd.contract_id!r}", "contract_id")
    if c.status == cmd.to:
        raise Rejected(f"contract {c.id} is already {c.status}", "to")
    if c.status not in STAFF_MOVES[C(cmd.to)]:
        raise Rejected(f"contract {c.id} is {c.status}; it cannot become {cmd.to}", "to")
    if cmd.to != C.ACTIVE and not cmd.reason.strip():
        raise Rejected(f"a reason is required to make contract {c.id} {cmd.to}", "reason")
    target = C(cmd.to)
    if target == C.ACTIVE and c.ends_on < today:
        raise Rejected(f"contract {c.id} ended on {c.ends_on}; extend it before activating", "to")
    if target == C.ACTIVE and not has_room(c):
        target = C.EXHAUSTED
    cancelled = _cancel_open_work(session, c, cmd, actor) if target == C.TERMINATED else 0
    set_status(session, c, target, by=actor, reason=cmd.reason, cause=cmd)
    if cancelled:
        publish_balance(session, cmd, c)
    return m.Reply.of(
        m.ContractMoved(
            contract_id=c.id,
            status=C(c.status),
            revision=c.revision,
            cancelled_assignments=cancelled,
        )
    )


def _cancel_open_work(session: Session, c: ContractRow, cmd: m.ChangeContractStatus, actor: Actor) -> int:
    """Terminated: work not yet done under it is cancelled and its reservation released."""
    rows = session.exec(
        select(AssignmentRow).where(AssignmentRow.contract_id == c.id, col(AssignmentRow.status).in_(HELD))
    )
    n = 0
    for a in rows:
        before = a.status
        moved = ledger.release(session, a, actor.label)
        why = f"contract {c.id} terminated: {cmd.reason}"
        session.add(a)
        asg.move(session, a, A.CANCELLED, actor.label, why)
        asg.record(session, cmd, a, "cancel", before, actor, why, moved)
        add_event(
            session,
            s.ASSIGNMENT_CANCELLED,
            cmd.caused(
                m.AssignmentCancelled,
                **asg.decision(a),
                reason=why,
                released_minutes=moved.minutes,
                released_vnd=moved.vnd,
            ),
        )
        n += 1
    return n


def expire_due(
    session: Session, cmd: m.ExpireContracts, actor: Actor, *, today: dt.date
) -> m.Reply[m.ContractsExpired]:
    day = cmd.today or today
    # Locked in id order, all before the first audit entry (the lock order of `assignments`).
    due = list(
        session.exec(
            select(ContractRow)
            .where(ContractRow.ends_on < day, col(ContractRow.status).not_in(TERMINAL))
            .order_by(ContractRow.id)
            .with_for_update()
        )
    )
    expired = []
    for c in due:
        set_status(session, c, C.EXPIRED, by=actor, reason=f"its last day was {c.ends_on}", cause=cmd)
        expired.append(c.id)
    return m.Reply.of(m.ContractsExpired(expired=expired, today=day))
