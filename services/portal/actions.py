"""What users do, sent as commands to the owning service; a refusal comes back per field.

Each function returns {field: message} ({} when it was done). The form's own checks use the
same models the services use, so the message beside a field is the one the service would give.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import ValidationError

from services.portal import vocabulary
from services.portal.bus import Bus, errors_by_field
from services.portal.i18n import Words
from services.portal.users import User
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared import subjects as s
from shared.parties import STAFF, expert_party, unit_party
from shared.scenario import Expert, Request
from shared.statuses import ContractStatus

Errors = dict[str, str]  # a `vocabulary.Said` (both languages) or a service's sentence


def decimal(text: Any) -> str:
    """A number as typed: `2,5` and `2.5` alike (a Vietnamese decimal comma)."""
    return str(text).strip().replace(",", ".")


def _validation_errors(err: ValidationError) -> Errors:
    out: Errors = {}
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if not isinstance(p, int)]
        field = "skill" if "skills" in loc else (loc[-1] if loc else "_")
        out.setdefault(field, vocabulary.validation(field, dict(e)))
    return out


def request_from_form(unit_id: str, form: dict[str, Any]) -> tuple[Request | None, Errors]:
    skill, level = str(form.get("skill", "")), str(form.get("level", "") or "1")
    raw = {
        "id": f"r-{secrets.token_hex(4)}",
        "unit": unit_id,
        "title": str(form.get("title", "")).strip(),
        "skills": {skill: level} if skill else {},
        "mode": form.get("mode", ""),
        "hours": decimal(form.get("hours", "")),
        "priority": form.get("priority", ""),
        "deadline": form.get("deadline", ""),
    }
    errors: Errors = {} if skill else {"skill": vocabulary.message("choose_skill")}
    try:
        req = Request.model_validate(raw)
    except ValidationError as err:
        return None, {**_validation_errors(err), **errors}
    return (None, errors) if errors else (req, {})


async def submit_request(bus: Bus, user: User, form: dict[str, Any]) -> tuple[str | None, Errors]:
    req, errors = request_from_form(user.unit_id or "", form)
    if req is None:
        return None, errors
    reply = await bus.command(user, s.REQUEST_SUBMIT, m.SubmitRequest(request=req, by=user.display_name))
    if reply.ok:
        return req.id, {}
    errors = errors_by_field(reply)
    if "unit" in errors:  # no field of the form: said at its top, or the form would come back silently
        said = errors.pop("unit")
        unit = user.unit_id or ""
        unknown = any(fe.code == m.Refusal.UNKNOWN_UNIT for fe in reply.field_errors)
        errors["_"] = (
            vocabulary.Said(
                Words("vi")("unit_unknown_submit").format(unit=unit),
                Words("en")("unit_unknown_submit").format(unit=unit),
            )
            if unknown
            else said
        )
    return None, errors


async def _command(bus: Bus, user: User, subject: str, message: m.Message) -> Errors:
    """The user's command, signed as them (`Bus.command`); the owning service decides."""
    reply = await bus.command(user, subject, message)
    return {} if reply.ok else errors_by_field(reply)


async def decide(bus: Bus, user: User, ids: list[str], decision: str, comment: str) -> dict[str, Any]:
    if not ids:
        return {"decided": 0, "refused": 0, "results": [], "errors": {"ids": vocabulary.message("choose_proposal")}}
    try:
        # The form's words, validated (a wrong decision is a field error, not a crash).
        cmd = m.DecideAssignments.model_validate(
            {"assignment_ids": ids, "decision": decision, "by": user.display_name, "comment": comment}
        )
    except ValidationError as err:
        return {"decided": 0, "refused": len(ids), "results": [], "errors": _validation_errors(err)}
    reply = await bus.command(user, E.ASSIGNMENTS_DECIDE.subject, cmd)
    if not reply.ok:
        return {"decided": 0, "refused": len(ids), "results": [], "errors": errors_by_field(reply)}
    return {**rpc.read(E.ASSIGNMENTS_DECIDE, reply).model_dump(mode="json"), "errors": {}}


async def accept(bus: Bus, user: User, assignment_id: str) -> Errors:
    try:
        cmd = m.AcceptAssignment(assignment_id=assignment_id, expert_id=user.expert_id or "")
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.ASSIGNMENT_ACCEPT, cmd)


async def decline(bus: Bus, user: User, assignment_id: str, reason: str) -> Errors:
    if not reason.strip():
        return {"reason": vocabulary.message("decline_reason")}
    try:
        cmd = m.DeclineAssignment(
            assignment_id=assignment_id, expert_id=user.expert_id or "", reason=reason.strip()[:2000]
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.ASSIGNMENT_DECLINE, cmd)


async def log_hours(bus: Bus, user: User, assignment_id: str, hours: str, note: str = "") -> Errors:
    try:
        cmd = m.LogHours.model_validate(
            {
                "assignment_id": assignment_id,
                "expert_id": user.expert_id or "",
                "hours": decimal(hours),
                "note": note[:2000],
            }
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.HOURS_LOG, cmd)


async def complete(bus: Bus, user: User, request_id: str, rating: str, comment: str) -> Errors:
    try:
        cmd = m.CompleteRequest.model_validate(
            {"request_id": request_id, "by": user.display_name, "rating": rating or None, "comment": comment[:2000]}
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.REQUEST_COMPLETE, cmd)


async def assign(bus: Bus, user: User, form: dict[str, Any]) -> Errors:
    """A staff override: the matcher checks it by the solver's rules; forcing needs a reason."""
    missing: Errors = {
        f: vocabulary.message(key)
        for f, key in (
            ("request_id", "choose_request"),
            ("expert_id", "choose_expert"),
            ("contract_id", "choose_contract"),
        )
        if not str(form.get(f, "")).strip()
    }
    if missing:
        return missing
    force = form.get("force") == "on"
    reason = str(form.get("reason", "")).strip()
    if force and not reason:
        return {"reason": vocabulary.message("force_reason")}
    try:
        cmd = m.AssignManually(
            request_id=str(form.get("request_id", "")).strip(),
            expert_id=str(form.get("expert_id", "")).strip(),
            contract_id=str(form.get("contract_id", "")).strip(),
            slot=form.get("slot") or 0,
            by=user.display_name,
            force=force,
            reason=reason[:2000],
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.ASSIGNMENT_ASSIGN, cmd)


async def change_contract_status(bus: Bus, user: User, contract_id: str, to: str, reason: str) -> Errors:
    """Staff suspend, resume or end a contract; suspending or ending it needs a reason (the audit
    trail keeps it, and the open assignments it cancels are told why)."""
    if to in (ContractStatus.SUSPENDED, ContractStatus.TERMINATED) and not reason.strip():
        return {"reason": vocabulary.message("status_reason")}
    try:
        cmd = m.ChangeContractStatus.model_validate(
            {"contract_id": contract_id, "to": to, "by": user.display_name, "reason": reason.strip()[:2000]}
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.CONTRACT_STATUS_CHANGE, cmd)


async def decide_extra_hours(bus: Bus, user: User, assignment_id: str, decision: str, comment: str) -> Errors:
    """Hours an expert logged beyond the reservation: charged to the contract (its caps must still
    hold) or refused."""
    if decision not in ("approve", "refuse"):
        return {"decision": vocabulary.message("approve_or_refuse")}
    try:
        cmd = m.DecideExtraHours(
            assignment_id=assignment_id,
            approve=decision == "approve",
            by=user.display_name,
            comment=comment.strip()[:2000],
        )
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.EXTRA_HOURS_DECIDE, cmd)


def party_of(user: User) -> str | None:
    """Whose inbox a user reads: the unit's, the expert's, or the home-affairs staff's."""
    if user.role == "commune":
        return unit_party(str(user.unit_id))
    if user.role == "expert":
        return expert_party(str(user.expert_id))
    return STAFF if user.role == "staff" else None


async def mark_read(bus: Bus, user: User) -> Errors:
    party = party_of(user)
    return await _command(bus, user, s.INBOX_MARK_READ, m.MarkRead(party=party)) if party else {}


async def set_availability(bus: Bus, user: User, record: dict[str, Any], form: dict[str, Any]) -> Errors:
    """An expert's own availability: capacity in the horizon, travel range, remote or on site.
    Re-registered as the expert's record with only these fields changed; the matcher re-plans."""
    changed = {
        **record,
        "capacity_hours": decimal(form.get("capacity_hours", "")),
        "max_travel_minutes": decimal(form.get("max_travel_minutes", "")),
        "remote": form.get("remote") == "on",
        "onsite": form.get("onsite") == "on",
    }
    try:
        expert = Expert.model_validate(changed)
    except ValidationError as err:
        return _validation_errors(err)
    return await _command(bus, user, s.REFERENCE_REGISTER, m.RegisterReference(experts=[expert], by=user.display_name))
