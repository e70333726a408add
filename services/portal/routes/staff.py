"""Home-affairs staff: the proposals board (approve or reject one or many), contracts, audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, chart, views
from services.portal.auth import check_csrf, page_user
from services.portal.web import render

router = APIRouter(include_in_schema=False)


@router.get("/proposals", response_class=HTMLResponse)
async def board(request: Request) -> Response:
    """The board; `?request_id=` narrows it to one request and adds the solver's alternatives."""
    user = page_user(request, "staff")
    bus = request.app.state.bus
    rid = request.query_params.get("request_id")
    rows = await views.proposals(bus)
    others = None
    if rid:
        rows = [a for a in rows if a["request_id"] == rid]
        others = await views.alternatives(bus, rid)
    return render(request, "proposals.html", user, proposals=rows, lines=views.explanation_lines, outcome=None,
                  others=others)


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
                  proposals=rows, lines=views.explanation_lines, outcome=outcome, others=None)


@router.get("/contracts", response_class=HTMLResponse)
async def contracts(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "contracts.html", user, contracts=await views.contracts(request.app.state.bus))


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "audit.html", user, entries=await views.audit_log(request.app.state.bus))


@router.get("/coverage", response_class=HTMLResponse)
async def coverage(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "coverage.html", user, rows=await views.unit_coverage(request.app.state.bus))


@router.get("/assign", response_class=HTMLResponse)
async def assign_form(request: Request) -> Response:
    user = page_user(request, "staff")
    return render(request, "assign.html", user, form=dict(request.query_params), errors={}, done=False)


@router.post("/assign", response_class=HTMLResponse)
async def assign(request: Request) -> Response:
    user = page_user(request, "staff")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.assign(request.app.state.bus, user, form)
    return render(request, "assign.html", user, status_code=422 if errors else 200,
                  form=form if errors else {}, errors=errors, done=not errors)


@router.get("/contracts/{cid}", response_class=HTMLResponse)
async def contract(request: Request, cid: str) -> Response:
    """One contract's balance and a chart of its use over time, from the audit trail."""
    user = page_user(request, "staff")
    bus = request.app.state.bus
    found = next((c for c in await views.contracts(bus) if c["id"] == cid), None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no contract {cid}")
    cap = round(found["hours_cap"] * 60)
    points = chart.use_over_time(await bus.audit(None, limit=5000), cid, cap)
    return render(request, "contract.html", user, c=found, points=points, chart=chart.svg(points, cap))
