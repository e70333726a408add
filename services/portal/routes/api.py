"""The JSON API under /api/v1 (API tokens), the same rules as the pages: a commune officer sees
its unit's requests only, an expert its own tasks only, only staff decide proposals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.portal import actions, i18n, views
from services.portal.deps import (
    ApiCommuneUser,
    ApiExpertUser,
    ApiPartyUser,
    ApiRequestsUser,
    ApiStaffUser,
    ApiUser,
)
from services.portal.i18n import SKILLS

router = APIRouter(prefix="/api/v1", tags=["api"])
Text = Annotated[str, Field(max_length=2000)]
AnId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class NewRequest(BaseModel):
    title: str = Field(max_length=300)
    skill: Literal[tuple(SKILLS)]  # type: ignore[valid-type]
    level: int = Field(default=1, ge=1, le=5)
    mode: Literal["onsite", "remote", "either"]
    hours: float = Field(gt=0, le=10_000)
    priority: int = Field(ge=1, le=5)
    deadline: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")


class Completion(BaseModel):
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: Text = ""


class Decision(BaseModel):
    assignment_ids: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]] = Field(
        min_length=1, max_length=500
    )
    decision: Literal["approve", "reject"]
    comment: Text = ""


class Decline(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Hours(BaseModel):
    hours: float = Field(gt=0, le=24 * 31)
    note: Text = ""


def _refused(errors: dict[str, str]) -> JSONResponse:
    """Each refused field with its message in English and in Vietnamese (`message_vi`)."""
    return JSONResponse(
        {
            "detail": [
                {"field": k, "message": getattr(v, "en", v), "message_vi": i18n.Words("vi").say(v)}
                for k, v in errors.items()
            ]
        },
        status_code=422,
    )


@router.get("/me")
async def me(request: Request, user: ApiUser) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "unit_id": user.unit_id, "expert_id": user.expert_id}


@router.get("/requests")
async def list_requests(request: Request, user: ApiRequestsUser) -> list[dict[str, Any]]:
    return await views.unit_requests(request.app.state.bus, user.unit_id if user.role == "commune" else None)


@router.post("/requests", status_code=201, response_model=None)
async def submit(request: Request, user: ApiCommuneUser, body: NewRequest) -> dict[str, Any] | JSONResponse:
    rid, errors = await actions.submit_request(request.app.state.bus, user, body.model_dump())
    return _refused(errors) if errors else {"request_id": rid}


@router.get("/requests/{rid}")
async def get_request(request: Request, user: ApiRequestsUser, rid: AnId) -> dict[str, Any]:
    rows = await views.unit_requests(request.app.state.bus, user.unit_id if user.role == "commune" else None, rid)
    found = next(iter(rows), None)
    if found is None:
        raise HTTPException(status_code=404, detail="no such request")
    return found


@router.post("/requests/{rid}/complete", response_model=None)
async def complete(
    request: Request, user: ApiCommuneUser, rid: AnId, body: Completion
) -> dict[str, Any] | JSONResponse:
    await get_request(request, user, rid)
    errors = await actions.complete(request.app.state.bus, user, rid, str(body.rating or ""), body.comment)
    return _refused(errors) if errors else {"request_id": rid, "status": "completed"}


@router.get("/proposals")
async def proposals(request: Request, _user: ApiStaffUser) -> list[dict[str, Any]]:
    return (await views.proposals(request.app.state.bus, 1, per_page=50))[0]


@router.post("/proposals/decide", response_model=None)
async def decide(request: Request, user: ApiStaffUser, body: Decision) -> dict[str, Any] | JSONResponse:
    outcome = await actions.decide(request.app.state.bus, user, body.assignment_ids, body.decision, body.comment)
    return _refused(outcome["errors"]) if outcome["errors"] else outcome


@router.get("/contracts")
async def contracts(request: Request, _user: ApiStaffUser) -> list[dict[str, Any]]:
    return await views.contracts(request.app.state.bus)


@router.get("/tasks")
async def tasks(request: Request, user: ApiExpertUser) -> list[dict[str, Any]]:
    return await views.expert_tasks(request.app.state.bus, user.expert_id or "")


@router.post("/tasks/{aid}/accept", response_model=None)
async def accept(request: Request, user: ApiExpertUser, aid: AnId) -> dict[str, Any] | JSONResponse:
    errors = await actions.accept(request.app.state.bus, user, aid)
    return _refused(errors) if errors else {"assignment_id": aid, "status": "accepted"}


@router.post("/tasks/{aid}/decline", response_model=None)
async def decline(request: Request, user: ApiExpertUser, aid: AnId, body: Decline) -> dict[str, Any] | JSONResponse:
    errors = await actions.decline(request.app.state.bus, user, aid, body.reason)
    return _refused(errors) if errors else {"assignment_id": aid, "status": "declined"}


@router.post("/tasks/{aid}/hours", response_model=None)
async def hours(request: Request, user: ApiExpertUser, aid: AnId, body: Hours) -> dict[str, Any] | JSONResponse:
    errors = await actions.log_hours(request.app.state.bus, user, aid, str(body.hours), body.note)
    return _refused(errors) if errors else {"assignment_id": aid, "logged_hours": body.hours}


class Assignment(BaseModel):
    request_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    slot: int = Field(default=0, ge=0, le=19)
    expert_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    contract_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    force: bool = False
    reason: Text = ""


@router.post("/assignments", status_code=201, response_model=None)
async def assign(request: Request, user: ApiStaffUser, body: Assignment) -> dict[str, Any] | JSONResponse:
    """Staff assign by hand (an override, checked by the solver's rules; forcing needs a reason)."""
    form = {**body.model_dump(), "force": "on" if body.force else ""}
    errors = await actions.assign(request.app.state.bus, user, form)
    return _refused(errors) if errors else {"request_id": body.request_id, "status": "assigned"}


class ContractStatusChange(BaseModel):
    to: Literal["active", "suspended", "terminated"]
    reason: Text = ""


@router.post("/contracts/{cid}/status", response_model=None)
async def contract_status(
    request: Request, user: ApiStaffUser, cid: AnId, body: ContractStatusChange
) -> dict[str, Any] | JSONResponse:
    """Staff suspend, resume or end a contract (suspending or ending needs a reason)."""
    errors = await actions.change_contract_status(request.app.state.bus, user, cid, body.to, body.reason)
    return _refused(errors) if errors else {"contract_id": cid, "status": body.to}


class ExtraHours(BaseModel):
    decision: Literal["approve", "refuse"]
    comment: Text = ""


@router.post("/assignments/{aid}/extra-hours", response_model=None)
async def extra_hours(
    request: Request, user: ApiStaffUser, aid: AnId, body: ExtraHours
) -> dict[str, Any] | JSONResponse:
    """Staff charge (approve) or refuse the hours an expert logged beyond the reservation."""
    errors = await actions.decide_extra_hours(request.app.state.bus, user, aid, body.decision, body.comment)
    return _refused(errors) if errors else {"assignment_id": aid, "decision": body.decision}


@router.get("/coverage")
async def coverage(request: Request, _user: ApiStaffUser) -> list[dict[str, Any]]:
    return await views.unit_coverage(request.app.state.bus)


@router.get("/inbox")
async def inbox(request: Request, user: ApiPartyUser) -> dict[str, Any]:
    """The caller's party's notifications: its unit's, its own (expert) or the staff's."""
    return await views.inbox(request.app.state.bus, actions.party_of(user) or "")
