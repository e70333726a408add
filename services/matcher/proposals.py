"""Writing what the matcher decides for a request, one way for every path that decides: a new
proposal (and its event for contracts and the notifier), or the reason nothing fits (told once).

The placement of a new request (`placement`) and the background re-plan (`planner`) both write
through here, so a proposal means the same whichever of them made it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from services.matcher.db import Proposal, RequestRow
from services.matcher.solver import Assignment
from shared import messages as m
from shared import subjects as s
from shared.db import add_event
from shared.limits import TEXT, clip
from shared.scenario import Request
from shared.statuses import HELD, AssignmentStatus, RequestStatus


def on_behalf(row: RequestRow, cause: m.Message) -> m.Message:
    """What the matcher decides for one request carries the correlation id of the last message
    that acted on that request (its submission, a decline), whatever woke the matcher up."""
    return cause.model_copy(update={"correlation_id": row.correlation_id}) if row.correlation_id else cause


def explanation_of(a: Any) -> dict[str, Any]:
    exp = getattr(a, "explanation", None)
    if exp is None:
        return {}
    return exp.model_dump(mode="json") if hasattr(exp, "model_dump") else dict(exp)


def propose(
    session: Session,
    row: RequestRow,
    request: Request,
    a: Assignment,
    *,
    expert_name: str,
    plan_id: int | None,
    plan_sha: str,
    cause: m.Message,
    flush: bool = True,
    trainee_name: str = "",
) -> Proposal:
    """One new pending proposal for `a` and its event. The caller has checked the slot is free;
    the partial unique index (one live proposal per slot) is the last word (at once, or at the
    caller's flush when `flush` is False: a plan's write of thousands)."""
    p = Proposal(
        id=f"a-{uuid.uuid4().hex[:10]}",
        request_id=a.request,
        slot=a.slot,
        expert_id=a.expert,
        contract_id=a.contract,
        mode=a.mode,
        travel_minutes=a.travel_minutes,
        minutes=a.minutes,
        cost_vnd=a.cost_vnd,
        plan_id=plan_id,
        trainee_id=a.trainee,
        trainee_minutes=a.trainee_minutes,
    )
    session.add(p)
    if flush:
        session.flush()  # the partial unique index sees it before the next slot is checked
    announce(
        session,
        p,
        request,
        on_behalf(row, cause),
        expert_name=expert_name,
        plan_sha=plan_sha,
        explanation=explanation_of(a),
        trainee_name=trainee_name or (a.trainee or ""),
    )
    return p


def announce(
    session: Session,
    p: Proposal,
    request: m.Request,
    cause: m.Message,
    *,
    expert_name: str,
    plan_sha: str,
    explanation: dict[str, Any],
    trainee_name: str = "",
    manual: m.ManualOverride | None = None,
) -> None:
    """`AssignmentProposed` for a proposal just written (by a plan, a placement or staff's hand)."""
    add_event(
        session,
        s.ASSIGNMENT_PROPOSED,
        cause.caused(
            m.AssignmentProposed,
            assignment_id=p.id,
            request=request,
            slot=p.slot,
            expert_id=p.expert_id,
            expert_name=expert_name,
            contract_id=p.contract_id,
            mode=p.mode,
            travel_minutes=p.travel_minutes,
            minutes=p.minutes,
            cost_vnd=p.cost_vnd,
            explanation=explanation,
            plan_input_sha256=plan_sha,
            manual=manual,
            trainee_id=p.trainee_id,
            trainee_name=trainee_name,
            trainee_minutes=p.trainee_minutes,
        ),
    )


def unmatched(
    session: Session,
    row: RequestRow,
    code: str,
    text: str,
    cause: m.Message,
    before: tuple[str, str, str] | None = None,
) -> None:
    """The request waits, unmatched, with the reason; announced only when the reason is new
    (`before`: what the request said before this decision, if the caller changed it meanwhile)."""
    text = clip(text, TEXT)
    told = before if before is not None else (row.status, row.reason_code, row.reason)
    row.status, row.reason_code, row.reason = RequestStatus.UNMATCHED, code, text
    session.add(row)
    if told != (RequestStatus.UNMATCHED, code, text):
        add_event(
            session,
            s.REQUEST_UNMATCHED,
            on_behalf(row, cause).caused(
                m.RequestUnmatched,
                request_id=row.id,
                unit_id=row.unit_id,
                title=row.record.get("title", ""),
                reason_code=code,
                reason=text,
            ),
        )


def request_status(slots: int, live: list[str]) -> RequestStatus:
    """A request's status from its live proposals' statuses: open while a slot is empty, then
    proposed, approved (every one held by the ledger) or accepted (every expert said yes)."""
    if len(live) < slots:
        return RequestStatus.OPEN
    if set(live) == {AssignmentStatus.ACCEPTED}:
        return RequestStatus.ACCEPTED
    if set(live) <= set(HELD):
        return RequestStatus.APPROVED
    return RequestStatus.PROPOSED
