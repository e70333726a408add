"""Home-affairs staff: the proposals board (approve or reject one or many), contracts, audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, views
from services.portal.auth import check_csrf, page_user
from services.portal.web import render

router = APIRouter(include_in_schema=False)


@router.get("/proposals", response_class=HTMLResponse)
async def board(request: Request) -> Response:
    user = page_user(request, "staff")
    rows = await views.proposals(request.app.state.bus)
    return render(request, "proposals.html", user, proposals=rows, lines=views.explanation_lines, outcome=None)


@router.post("/proposals/decide", response_class=HTMLResponse)
async def decide(request: Request) -> Response:
    user = page_user(request, "staff")
    form = await request.form()
    check_csrf(request, form)
    ids = [str(v) for v in form.getlist("ids")]
    decision = "reject" if form.get("decision") == "reject" else "approve"
    outcome = await actions.decide(request.app.state.bus, user, ids, decision, str(form.get("comment", "")))
    rows = await views.proposals(request.app.state.bus)
    return render(request, "proposals.html", user, status_code=422 if outcome["errors"] else 200,
                  proposals=rows, lines=views.explanation_lines, outcome=outcome)


@router.get("/contracts", response_class=HTMLResponse)
async def contracts(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "contracts.html", user, contracts=await views.contracts(request.app.state.bus))


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "audit.html", user, entries=await views.audit_log(request.app.state.bus))
