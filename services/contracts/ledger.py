"""The hours-and-budget ledger: reserve on approval, consume on logged work, release the rest.

Every movement is one conditional UPDATE whose WHERE clause is the cap itself, so two approvals
racing for the last hours of a contract cannot both pass, on SQLite or PostgreSQL, whatever the
isolation level: the database applies them one after the other and the second finds no room.
The callers lock the assignment, contract and expert rows first, in the order `assignments`
documents, and read the assignment afresh: what a movement computes from it (minutes logged,
reserved) is never stale, so two movements of one assignment never both count the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col

from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, LedgerLine
from shared.bus import Rejected
from shared.formatting import decimal_hours, money
from shared.statuses import ContractStatus as C


def cost_of(minutes: int, hourly_rate_vnd: int) -> int:
    """Minutes at an hourly rate, rounded up to a whole dong (integer arithmetic only)."""
    return -(-minutes * hourly_rate_vnd // 60)


@dataclass(frozen=True)
class Movement:
    minutes: int
    vnd: int


def reserve(session: Session, a: AssignmentRow, by: str) -> Movement:
    contract = session.get(ContractRow, a.contract_id)
    if contract is None:
        raise Rejected(f"unknown contract {a.contract_id!r}", "contract_id")
    m, v = a.minutes, cost_of(a.minutes, contract.hourly_rate_vnd)
    c = ContractRow
    won = session.exec(
        update(c)
        .where(
            col(c.id) == a.contract_id,
            col(c.status) == C.ACTIVE,
            col(c.used_minutes_before) + c.reserved_minutes + c.consumed_minutes + m <= c.cap_minutes,
            or_(
                col(c.budget_cap_vnd) == None,  # noqa: E711
                col(c.budget_used_before_vnd) + c.reserved_vnd + c.consumed_vnd + v <= c.budget_cap_vnd,
            ),
            col(c.active_before) + c.active_count + 1 <= c.max_concurrent,
        )
        .values(
            reserved_minutes=c.reserved_minutes + m,
            reserved_vnd=c.reserved_vnd + v,
            active_count=c.active_count + 1,
        )
    ).rowcount
    if not won:
        session.refresh(contract)
        raise Rejected(_why_no_room(contract, m, v), "assignment_id")
    e = ExpertRow
    fits = session.exec(
        update(e)
        .where(and_(col(e.id) == a.expert_id, col(e.committed_minutes) + e.booked_minutes + m <= e.capacity_minutes))
        .values(booked_minutes=e.booked_minutes + m)
    ).rowcount
    if not fits:
        expert = session.get(ExpertRow, a.expert_id)
        left = expert.capacity_minutes - expert.committed_minutes - expert.booked_minutes if expert else 0
        raise Rejected(
            f"expert {a.expert_id} capacity: {decimal_hours(left)} left in the horizon, "
            f"this assignment needs {decimal_hours(m)}",
            "assignment_id",
        )
    session.add(LedgerLine(contract_id=a.contract_id, assignment_id=a.id, kind="reserve", minutes=m, vnd=v, by=by))
    a.reserved_minutes, a.reserved_vnd = m, v
    return Movement(m, v)


def _why_no_room(c: ContractRow, m: int, v: int, *, check_status: bool = True) -> str:
    if check_status and c.status not in (C.ACTIVE, C.EXHAUSTED):
        return f"contract {c.id} is {c.status}{': ' + c.status_reason if c.status_reason else ''}"
    left = c.cap_minutes - c.used_minutes
    if m > left:
        return (
            f"contract {c.id} hours cap {decimal_hours(c.cap_minutes)}: {decimal_hours(c.used_minutes)} used or "
            f"reserved, {decimal_hours(left)} left; this assignment needs {decimal_hours(m)}"
        )
    if c.budget_cap_vnd is not None and v > c.budget_cap_vnd - c.used_vnd:
        return (
            f"contract {c.id} budget cap {money(c.budget_cap_vnd)}: {money(c.used_vnd)} used or "
            f"reserved, {money(c.budget_cap_vnd - c.used_vnd)} left; this assignment needs {money(v)}"
        )
    return (
        f"contract {c.id} allows {c.max_concurrent} concurrent assignments and has "
        f"{c.active_before + c.active_count} active"
    )


def consume(session: Session, a: AssignmentRow, minutes: int, by: str) -> Movement:
    """Turn reserved time into used time; the caller has checked it stays within the reservation."""
    contract = session.get(ContractRow, a.contract_id)
    assert contract is not None
    total_vnd = min(a.reserved_vnd, cost_of(a.logged_minutes + minutes, contract.hourly_rate_vnd))
    v = total_vnd - a.consumed_vnd
    c = ContractRow
    session.execute(
        update(c)
        .where(col(c.id) == a.contract_id)
        .values(
            reserved_minutes=c.reserved_minutes - minutes,
            consumed_minutes=c.consumed_minutes + minutes,
            reserved_vnd=c.reserved_vnd - v,
            consumed_vnd=c.consumed_vnd + v,
        )
    )
    session.add(
        LedgerLine(contract_id=a.contract_id, assignment_id=a.id, kind="consume", minutes=minutes, vnd=v, by=by)
    )
    a.logged_minutes += minutes
    a.consumed_vnd += v
    return Movement(minutes, v)


def release(session: Session, a: AssignmentRow, by: str) -> Movement:
    """Give back what an assignment reserved and did not use, and free its concurrency slot."""
    m = a.reserved_minutes - a.logged_minutes
    v = a.reserved_vnd - a.consumed_vnd
    c, e = ContractRow, ExpertRow
    session.execute(
        update(c)
        .where(col(c.id) == a.contract_id)
        .values(
            reserved_minutes=c.reserved_minutes - m,
            reserved_vnd=c.reserved_vnd - v,
            active_count=c.active_count - 1,
        )
    )
    session.execute(update(e).where(col(e.id) == a.expert_id).values(booked_minutes=e.booked_minutes - m))
    session.add(LedgerLine(contract_id=a.contract_id, assignment_id=a.id, kind="release", minutes=m, vnd=v, by=by))
    a.reserved_minutes -= m
    a.reserved_vnd -= v
    return Movement(m, v)


def consume_extra(session: Session, a: AssignmentRow, minutes: int, by: str) -> Movement:
    """Hours worked beyond the reservation, approved by staff: reserved and consumed at once, in
    one conditional UPDATE whose WHERE is the caps (an approval never breaks one either)."""
    contract = session.get(ContractRow, a.contract_id)
    if contract is None:
        raise Rejected(f"unknown contract {a.contract_id!r}", "assignment_id")
    v = max(0, cost_of(a.logged_minutes + minutes, contract.hourly_rate_vnd) - a.consumed_vnd)
    c = ContractRow
    won = session.exec(
        update(c)
        .where(
            col(c.id) == a.contract_id,
            col(c.used_minutes_before) + c.reserved_minutes + c.consumed_minutes + minutes <= c.cap_minutes,
            or_(
                col(c.budget_cap_vnd) == None,  # noqa: E711
                col(c.budget_used_before_vnd) + c.reserved_vnd + c.consumed_vnd + v <= c.budget_cap_vnd,
            ),
        )
        .values(consumed_minutes=c.consumed_minutes + minutes, consumed_vnd=c.consumed_vnd + v)
    ).rowcount
    if not won:
        session.refresh(contract)
        why = _why_no_room(contract, minutes, v, check_status=False)
        raise Rejected(why.replace("this assignment needs", "the extra hours need"), "assignment_id")
    e = ExpertRow
    # The time was worked already: the expert's load grows even past the planning capacity.
    session.execute(update(e).where(col(e.id) == a.expert_id).values(booked_minutes=e.booked_minutes + minutes))
    for kind in ("reserve", "consume"):
        session.add(LedgerLine(contract_id=a.contract_id, assignment_id=a.id, kind=kind, minutes=minutes, vnd=v, by=by))
    a.reserved_minutes += minutes
    a.reserved_vnd += v
    a.logged_minutes += minutes
    a.consumed_vnd += v
    return Movement(minutes, v)
