"""What every decision on an assignment needs: finding it, checking its state, recording the
change in the audit trail with the solver's reason and the contract line charged.

The trail entry of a decision carries who, when (the trail's clock), what, the status before and
after, the request and unit, the solver's explanation with the digest of the input it planned
from, any staff override, and the ledger movement under the contract.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from services.contracts import audit, ledger
from services.contracts.db import AssignmentRow, ContractRow
from shared import messages as m
from shared.bus import Rejected
from shared.db import utcnow

LIVE = ("approved", "accepted")


def get(session: Session, assignment_id: str, field: str = "assignment_id") -> AssignmentRow:
    a = session.get(AssignmentRow, assignment_id)
    if a is None:
        raise Rejected(f"unknown assignment {assignment_id!r}", field)
    return a


def require(a: AssignmentRow, *states: str, field: str = "assignment_id") -> None:
    if a.status not in states:
        raise Rejected(f"assignment {a.id} is {a.status}; this needs it to be {' or '.join(states)}", field)


def own(a: AssignmentRow, expert_id: str) -> None:
    if a.expert_id != expert_id:
        raise Rejected(f"assignment {a.id} is not expert {expert_id}'s", "expert_id")


def set_status(a: AssignmentRow, status: str, by: str, note: str = "") -> None:
    a.status, a.decided_by, a.note, a.updated_at = status, by, note, utcnow()


def contract_line(session: Session, a: AssignmentRow, moved: ledger.Movement) -> dict[str, Any]:
    c = session.get(ContractRow, a.contract_id)
    assert c is not None  # a ledger movement was just made under it
    session.refresh(c)  # the ledger moved it with a conditional UPDATE, behind the ORM's back
    return {
        "contract": a.contract_id,
        "kind": c.kind,
        "minutes": moved.minutes,
        "vnd": moved.vnd,
        "hourly_rate_vnd": c.hourly_rate_vnd,
        "left_minutes_after": c.cap_minutes - c.used_minutes,
        "left_vnd_after": None if c.budget_cap_vnd is None else c.budget_cap_vnd - c.used_vnd,
    }


def record(
    session: Session,
    cause: m.Message,
    a: AssignmentRow,
    action: str,
    before: str,
    by: str,
    note: str = "",
    moved: ledger.Movement | None = None,
    **extra: Any,
) -> None:
    """One trail entry per decision."""
    detail: dict[str, Any] = {
        "request": a.request_id,
        "slot": a.slot,
        "unit": a.unit_id,
        "expert": a.expert_id,
        "note": note,
        **extra,
    }
    if moved is not None:
        detail["contract_line"] = contract_line(session, a, moved)
    if action in ("approve", "assign"):
        detail["explanation"] = a.explanation
        detail["plan_input_sha256"] = a.plan_input_sha256
    audit.record(
        session,
        actor=by,
        action=action,
        subject=f"assignment:{a.id}",
        before={"status": before},
        after={"status": a.status},
        detail=detail,
        correlation_id=cause.correlation_id,
    )


def decision(a: AssignmentRow) -> dict[str, str]:
    """The fields every assignment event carries."""
    return dict(
        assignment_id=a.id,
        request_id=a.request_id,
        unit_id=a.unit_id,
        expert_id=a.expert_id,
        contract_id=a.contract_id,
        title=a.title,
    )
