"""Every party's notifications (the notifier's inbox): the unit's, the expert's, the staff's.

Each notification shows what happened and the buttons or links to act on it (accept or decline a
task, approve or reject a proposal, open the request), found by the id it names among what the
reader may act on; the shell commands the notifier writes for e-mail are not shown here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, views
from services.portal.auth import check_csrf
from services.portal.bus import Bus
from services.portal.deps import PartyUser
from services.portal.users import User
from services.portal.web import render, see_other

router = APIRouter(include_in_schema=False)
#: Notifications per page: a phone shows a screenful or two, each with its buttons.
PAGE = 20


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, user: PartyUser) -> Response:
    bus = request.app.state.bus
    party = actions.party_of(user) or ""
    box = await views.inbox(bus, party)
    every = box["notifications"]
    pages = max(1, -(-len(every) // PAGE))
    page = views.page_number(request.query_params.get("page"), pages)
    shown = every[(page - 1) * PAGE : page * PAGE]
    await _link(bus, user, shown)
    return render(request, "inbox.html", user, party=party, box=box, notes=shown, page=page, pages=pages)


async def _link(bus: Bus, user: User, notes: list[dict[str, Any]]) -> None:
    """Each notification's `task`, `request` or `proposal`: what it is about, to act on."""
    if not notes:
        return
    if user.role == "expert":
        tasks = await views.expert_tasks(bus, user.expert_id or "")
        for n in notes:
            n["task"] = views.mentioned(tasks, n) or views.mentioned(tasks, n, "request_id")
            _named(n, n["task"], "id", "request_id")
        return
    requests = await views.unit_requests(bus, user.unit_id if user.role == "commune" else None)
    waiting = []
    if user.role == "staff":
        waiting = (await bus.contracts_status(statuses=["proposed"], limit=views.LIST_LIMIT, with_contracts=False))[
            "assignments"
        ]
    for n in notes:
        n["proposal"] = views.mentioned(waiting, n)
        n["request"] = views.mentioned(requests, n)
        _named(n, n["proposal"], "id", "request_id")
        _named(n, n["request"], "id")


def _named(n: dict[str, Any], item: dict[str, Any] | None, *keys: str) -> None:
    """The heading says what it is about by its title, not its id (`Nhiệm vụ mới «Cài chữ ký số…»`)."""
    if item and item.get("title"):
        title = str(item["title"])
        short = title if len(title) <= 60 else title[:59] + "…"
        for key in keys:
            n["subject"] = n["subject"].replace(str(item[key]), f"«{short}»")


@router.post("/inbox/read")
async def mark_read(request: Request, user: PartyUser) -> Response:
    check_csrf(request, await request.form())
    await actions.mark_read(request.app.state.bus, user)
    return see_other("/inbox")
