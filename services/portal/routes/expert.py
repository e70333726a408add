"""Expert: my tasks, accept or decline with a reason, log hours, my availability."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, directory, views
from services.portal.auth import check_csrf
from services.portal.deps import ExpertUser
from services.portal.users import User
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)


async def _page(request: Request, user: User, status_code: int = 200, **context: object) -> Response:
    bus = request.app.state.bus
    tasks = await views.expert_tasks(bus, user.expert_id or "")
    done = DONE.get(request.query_params.get("done", "")) if status_code == 200 else None
    return render(
        request,
        "tasks.html",
        user,
        status_code=status_code,
        tasks=tasks,
        errors=context.get("errors", {}),
        failed=context.get("failed"),
        done=done,
        units=(await directory.names(bus))["units"],
    )


#: The confirmation after each action (`?done=`), as the words' keys.
DONE = {"accept": "done_accept", "decline": "done_decline", "hours": "done_hours"}


@router.get("/tasks", response_class=HTMLResponse)
async def tasks(request: Request, user: ExpertUser) -> Response:
    return await _page(request, user)


@router.post("/tasks/{aid}/{what}", response_class=HTMLResponse)
async def act(request: Request, user: ExpertUser, aid: str, what: str) -> Response:
    form = await request.form()
    check_csrf(request, form)
    bus = request.app.state.bus
    if what == "accept":
        errors = await actions.accept(bus, user, aid)
    elif what == "decline":
        errors = await actions.decline(bus, user, aid, str(form.get("reason", "")))
    elif what == "hours":
        errors = await actions.log_hours(bus, user, aid, str(form.get("hours", "")), str(form.get("note", "")))
    else:
        return await _page(request, user, 404)
    if errors:
        return await _page(request, user, 422, errors=errors, failed=aid)
    return see_other(f"/tasks?done={what}#task-{aid}")


async def _record(request: Request, expert_id: str) -> dict[str, Any]:
    record = await views.expert_record(request.app.state.bus, expert_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"expert {expert_id} is not registered")
    return record


@router.get("/availability", response_class=HTMLResponse)
async def availability(request: Request, user: ExpertUser) -> Response:
    record = await _record(request, user.expert_id or "")
    return render(request, "availability.html", user, form=record, errors={}, saved=False)


@router.post("/availability", response_class=HTMLResponse)
async def set_availability(request: Request, user: ExpertUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    record = await _record(request, user.expert_id or "")
    errors = await actions.set_availability(request.app.state.bus, user, record, form)
    if errors:
        shown = {**form, "remote": form.get("remote") == "on", "onsite": form.get("onsite") == "on"}
        return render(request, "availability.html", user, status_code=422, form=shown, errors=errors, saved=False)
    return render(
        request, "availability.html", user, form=await _record(request, user.expert_id or ""), errors={}, saved=True
    )
