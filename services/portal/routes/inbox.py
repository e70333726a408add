"""Every party's notifications (the notifier's inbox): the unit's, the expert's, the staff's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, views
from services.portal.auth import check_csrf, page_user
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    user = page_user(request, "commune", "expert", "staff")
    party = actions.party_of(user) or ""
    return render(request, "inbox.html", user, party=party, box=await views.inbox(request.app.state.bus, party))


@router.post("/inbox/read")
async def mark_read(request: Request) -> Response:
    user = page_user(request, "commune", "expert", "staff")
    check_csrf(request, await request.form())
    await actions.mark_read(request.app.state.bus, user)
    return see_other("/inbox")
