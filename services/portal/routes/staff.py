"""Home-affairs staff: the proposals board (approve or reject one or many), contracts (their
lifecycle and the extra hours waiting), coverage, manual assignment, audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, chart, views
from services.portal.auth import check_csrf, page_user
from services.portal.users import User
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


#: Contracts per page of the list: a country's thousands would make a page of megabytes.
PAGE = 100


@router.get("/contracts", response_class=HTMLResponse)
async def contracts(request: Request) -> Response:
    """The contracts, a page at a time; `status` and `q` (a contract or expert id, or part of one)
    narrow the list, and those with extra hours waiting come first."""
    user = page_user(request, "staff")
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "").strip().lower()
    rows = [c for c in await views.contracts(request.app.state.bus)
            if (not status or c["status"] == status) and (not q or q in c["id"].lower() or q in c["expert_id"].lower())]
    rows.sort(key=lambda c: (not c["extra_waiting"], c["id"]))
    pages = max(1, -(-len(rows) // PAGE))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1
    return render(request, "contracts.html", user, contracts=rows[(page - 1) * PAGE: page * PAGE], page=page,
                  pages=pages, total=len(rows), status=status, q=q)


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
    """One contract: its balance, a chart of its use over time (from the audit trail), the extra
    hours waiting for a decision, and its lifecycle (suspend, resume, end)."""
    return await _contract_page(request, page_user(request, "staff"), cid)


@router.post("/contracts/{cid}/status", response_class=HTMLResponse)
async def contract_status(request: Request, cid: str) -> Response:
    user = page_user(request, "staff")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.change_contract_status(request.app.state.bus, user, cid, form.get("to", ""),
                                                  form.get("reason", ""))
    return await _contract_page(request, user, cid, errors=errors, form=form if errors else {},
                                saved="status" if not errors else None)


@router.post("/contracts/{cid}/extra", response_class=HTMLResponse)
async def extra_hours(request: Request, cid: str) -> Response:
    user = page_user(request, "staff")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.decide_extra_hours(request.app.state.bus, user, form.get("assignment_id", ""),
                                              form.get("decision", ""), form.get("comment", ""))
    return await _contract_page(request, user, cid, errors=errors, form=form if errors else {},
                                saved="extra" if not errors else None)


async def _contract_page(request: Request, user: User, cid: str, *, errors: dict[str, str] | None = None,
                         form: dict[str, str] | None = None, saved: str | None = None) -> Response:
    bus = request.app.state.bus
    found = next(iter(await views.contracts(bus, cid)), None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no contract {cid}")
    cap = round(found["hours_cap"] * 60)
    points = chart.use_over_time(await bus.audit(None, limit=5000), cid, cap)
    return render(request, "contract.html", user, status_code=422 if errors else 200, c=found, points=points,
                  chart=chart.svg(points, cap), errors=errors or {}, form=form or {}, saved=saved)
