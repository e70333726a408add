"""What every decision on an assignment needs: finding and locking it, checking its state,
moving it (the shared state machine, `shared.assignment`), recording the change in the audit
trail with the solver's reason and the contract line charged.

Lock order, the same for every writer of this service, so two writers queue instead of
deadlocking (PostgreSQL; SQLite lets one writer in at a time anyway):

    1. assignment rows, in id order (an approval or a completion takes every assignment of the
       request, so approvals of one slot and the request's completion are serialised);
    2. contract rows, in id order;
    3. expert rows, in id order;
    4. the audit trail's head row, last (`audit.record` takes it; nothing is locked after it).

`take` and `lock_in_order` take 1-3 up front, before any write, so the ledger's UPDATEs and the
balances published afterwards (`lifecycle.publish_balance`) only touch rows already held. A
transaction that still meets a deadlock is run again (`shared.db.retrying`, in `run_once`).

The trail entry of a decision carries who, when (the trail's clock), what, the status before and
after, the request and unit, the solver's explanation with the digest of the input it planned
from, any staff override, and the ledger movement under the contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from services.contracts import audit, ledger
from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, RequestCopy
from shared import assignment as sm
from shared import messages as m
from shared.bus import Rejected
from shared.db import utcnow
from shared.parties import system_party
from shared.security.credentials import Actor, system
from shared.statuses import FINISHED, HELD
from shared.statuses import AssignmentStatus as A
from shared.statuses import RequestStatus as R

LEDGER = Actor(person="ledger", role="system", party=system_party("contracts"), channel="system")
CONTRACTS = system("contracts")


def get(session: Session, assignment_id: str, field: str = "assignment_id") -> AssignmentRow:
    a = session.get(AssignmentRow, assignment_id)
    if a is None:
        raise Rejected(f"unknown assignment {assignment_id!r}", field)
    return a


def lock_in_order(
    session: Session, *, assignments: Iterable[str] = (), contracts: Iterable[str] = (), experts: Iterable[str] = ()
) -> None:
    """Row locks in the module's order, each kind in id order; the rows are read afresh."""
    for model, ids in ((AssignmentRow, assignments), (ContractRow, contracts), (ExpertRow, experts)):
        wanted = sorted(set(ids))
        if wanted:
            stmt = select(model).where(col(model.id).in_(wanted)).order_by(col(model.id)).with_for_update()
            list(session.exec(stmt.execution_options(populate_existing=True)))


def take(
    session: Session,
    assignment_id: str,
    *,
    whole_request: bool = False,
    ledger_rows: bool = True,
    field: str = "assignment_id",
) -> AssignmentRow:
    """The assignment, locked (with every assignment of its request, and its contract and
    expert rows, when asked) and read afresh: what a decision checks is what it changes."""
    a = get(session, assignment_id, field)
    ids = [a.id]
    if whole_request:
        ids = list(session.exec(select(AssignmentRow.id).where(AssignmentRow.request_id == a.request_id)))
    lock_in_order(
        session,
        assignments=ids,
        contracts=[a.contract_id] if ledger_rows else (),
        experts=[a.expert_id] if ledger_rows else (),
    )
    return a


def lock_request(session: Session, request_id: str) -> list[AssignmentRow]:
    """Every assignment of a request with their contracts and experts, locked in order."""
    rows = list(session.exec(select(AssignmentRow).where(AssignmentRow.request_id == request_id)))
    lock_in_order(
        session,
        assignments=[a.id for a in rows],
        contracts=[a.contract_id for a in rows],
        experts=[a.expert_id for a in rows],
    )
    return sorted(rows, key=lambda a: a.id)


def slot_free(session: Session, a: AssignmentRow) -> None:
    """Refuse to approve a second expert for a slot, or anything for a request already closed."""
    others = list(
        session.exec(select(AssignmentRow).where(AssignmentRow.request_id == a.request_id, AssignmentRow.id != a.id))
    )
    for o in others:
        if o.slot == a.slot and o.status in HELD:
            raise Rejected(
                f"slot {a.slot} of request {a.request_id} is already taken: assignment {o.id} "
                f"({o.expert_id}) is {o.status}",
                "assignment_id",
            )
    copy = session.get(RequestCopy, a.request_id)
    status = copy.status if copy is not None and copy.status in FINISHED else None
    if status is None and any(o.status == A.COMPLETED for o in others):
        status = R.COMPLETED
    if status is not None:
        raise Rejected(
            f"request {a.request_id} is already {status}; nothing more can be approved for it", "assignment_id"
        )


def move(session: Session, a: AssignmentRow, status: str, by: str, note: str = "") -> None:
    """One move of the state machine as a conditional UPDATE: refused (with the status found)
    when the assignment is not in a status the target may be reached from."""
    session.flush()
    sources = [str(x) for x in sm.sources(status)]
    now = utcnow()
    done = session.exec(
        update(AssignmentRow)
        .where(col(AssignmentRow.id) == a.id, col(AssignmentRow.status).in_(sources))
        .values(status=status, decided_by=by, note=note, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        session.refresh(a)
        raise Rejected(f"assignment {a.id} is {a.status}; it cannot become {status}", "assignment_id")
    for key, value in (("status", status), ("decided_by", by), ("note", note), ("updated_at", now)):
        set_committed_value(a, key, value)  # what the UPDATE wrote; nothing left to flush


def require(a: AssignmentRow, *states: str, field: str = "assignment_id") -> None:
    if a.status not in states:
        raise Rejected(f"assignment {a.id} is {a.status}; this needs it to be {' or '.join(states)}", field)


def own(a: AssignmentRow, expert_id: str) -> None:
    if a.expert_id != expert_id:
        raise Rejected(f"assignment {a.id} is not expert {expert_id}'s", "expert_id")


def the_expert(session: Session, cmd: m.AcceptAssignment | m.DeclineAssignment | m.LogHours, actor: Actor) -> None:
    """Ownership: only the assignment's own expert answers it or logs hours on it, and the
    `expert_id` the command names must be theirs (never someone else's, whoever sends it)."""
    mine = actor.party_id("expert")
    if mine is None or cmd.expert_id != mine:
        raise Rejected(
            f"you act as {actor.party}; only expert {cmd.expert_id} may do this", "expert_id", code=m.Refusal.NOT_YOURS
        )
    own(get(session, cmd.assignment_id), mine)


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
    by: Actor,
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


class Decision(TypedDict):
    assignment_id: str
    request_id: str
    unit_id: str
    expert_id: str
    contract_id: str
    title: str


def decision(a: AssignmentRow) -> Decision:
    """The fields every assignment event carries."""
    return Decision(
        assignment_id=a.id,
        request_id=a.request_id,
        unit_id=a.unit_id,
        expert_id=a.expert_id,
        contract_id=a.contract_id,
        title=a.title,
    )
