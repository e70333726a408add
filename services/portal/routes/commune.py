"""Commune officer: submit a request, follow its timeline, confirm completion with a rating."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, directory, views
from services.portal.auth import check_csrf
from services.portal.deps import CommuneUser
from services.portal.users import User
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/requests", response_class=HTMLResponse)
async def my_requests(request: Request, user: CommuneUser) -> Response:
    bus = request.app.state.bus
    rows = await views.unit_requests(bus, user.unit_id)
    unit = (await directory.names(bus))["units"].get(user.unit_id or "", {})
    return render(request, "requests.html", user, requests=rows, unit=unit)


@router.get("/requests/new", response_class=HTMLResponse)
async def new_request(request: Request, user: CommuneUser) -> Response:
    return render(request, "request_form.html", user, form={"priority": "3", "mode": "either", "level": "2"}, errors={})


@router.post("/requests", response_class=HTMLResponse)
async def submit(request: Request, user: CommuneUser) -> Response:
    form = dict(await request.form())
    check_csrf(request, form)
    rid, errors = await actions.submit_request(request.app.state.bus, user, form)
    if errors:
        return render(request, "request_form.html", user, status_code=422, form=form, errors=errors)
    return see_other(f"/requests/{rid}?done=submit")


async def _own(request: Request, user: User, rid: str) -> dict[str, Any]:
    """The unit's own request `rid` (404 for another unit's)."""
    rows = await views.unit_requests(request.app.state.bus, user.unit_id, rid)
    found = next(iter(rows), None)
    if found is None:  # another unit's request is as unknown as a missing one
        raise HTTPException(status_code=404, detail="no such request")
    return found


@router.get("/requests/{rid}", response_class=HTMLResponse)
async def request_page(request: Request, user: CommuneUser, rid: str) -> Response:
    found = await _own(request, user, rid)
    return await _page(request, user, found, done=DONE.get(request.query_params.get("done", "")))


#: The confirmations a page shows after an action (`?done=`), as the words' keys.
DONE = {"submit": "done_submit", "complete": "done_complete"}


async def _page(
    request: Request,
    user: User,
    found: dict[str, Any],
    status_code: int = 200,
    errors: dict[str, Any] | None = None,
    done: str | None = None,
) -> Response:
    bus = request.app.state.bus
    events = await views.history(bus, found)
    return render(
        request,
        "request.html",
        user,
        status_code=status_code,
        r=found,
        events=events,
        errors=errors or {},
        visits=await directory.visits(bus, found),
        done=done,
        experts=(await directory.names(bus))["experts"],
    )


@router.post("/requests/{rid}/complete", response_class=HTMLResponse)
async def complete(request: Request, user: CommuneUser, rid: str) -> Response:
    found = await _own(request, user, rid)
    form = await request.form()
    check_csrf(request, form)
    errors = await actions.complete(
        request.app.state.bus, user, rid, str(form.get("rating", "")), str(form.get("comment", ""))
    )
    if errors:
        return await _page(request, user, found, status_code=422, errors=errors)
    return see_other(f"/requests/{rid}?done=complete")
