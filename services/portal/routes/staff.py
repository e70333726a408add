"""Home-affairs staff: the proposals board (approve or reject one or many), contracts (their
lifecycle and the extra hours waiting), coverage, manual assignment, audit log."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import actions, chart, directory, views
from services.portal.auth import check_csrf
from services.portal.deps import StaffUser
from services.portal.users import User
from services.portal.web import page_language, render

router = APIRouter(include_in_schema=False)


@router.get("/proposals", response_class=HTMLResponse)
async def board(request: Request, user: StaffUser) -> Response:
    """The board, a page at a time; `?request_id=` narrows it to one request and adds the solver's
    alternatives."""
    rid = request.query_params.get("request_id") or None
    return await _board(request, user, rid=rid, page_raw=request.query_params.get("page"))


@router.post("/proposals/decide", response_class=HTMLResponse)
async def decide(request: Request, user: StaffUser) -> Response:
    """Approve or reject the ticked proposals, or the one whose own button was pressed."""
    form = await request.form()
    check_csrf(request, form)
    one = str(form.get("approve_one") or form.get("reject_one") or "")
    ids = [one] if one else [str(v) for v in form.getlist("ids")]
    decision = "reject" if form.get("decision") == "reject" or form.get("reject_one") else "approve"
    outcome = await actions.decide(request.app.state.bus, user, ids, decision, str(form.get("comment", "")))
    outcome["decision"] = decision
    return await _board(request, user, outcome=outcome, status_code=422 if outcome["errors"] else 200)


async def _board(
    request: Request,
    user: User,
    *,
    rid: str | None = None,
    page_raw: str | None = None,
    outcome: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    bus = request.app.state.bus
    first, total = await views.proposals(bus, 1, request_id=rid)
    pages = max(1, -(-total // views.PROPOSALS_PAGE))
    page = views.page_number(page_raw, pages)
    rows = first if page == 1 else (await views.proposals(bus, page, request_id=rid))[0]
    return render(
        request,
        "proposals.html",
        user,
        status_code=status_code,
        proposals=rows,
        outcome=outcome,
        others=await views.alternatives(bus, rid) if rid else None,
        names=await directory.names(bus),
        page=page,
        pages=pages,
        total=total,
        rid=rid or "",
    )


#: Contracts per page of the list: a country's thousands would make a page of megabytes.
PAGE = 100


@router.get("/contracts", response_class=HTMLResponse)
async def contracts(request: Request, user: StaffUser) -> Response:
    """The contracts, a page at a time; `status` and `q` (a contract or expert id, or part of one)
    narrow the list, and those with extra hours waiting come first."""
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "").strip().lower()
    bus = request.app.state.bus
    experts = (await directory.names(bus))["experts"]

    def matches(c: dict[str, Any]) -> bool:
        name = str(experts.get(c["expert_id"], {}).get("name", "")).lower()
        return not q or q in c["id"].lower() or q in c["expert_id"].lower() or q in name

    rows = [c for c in await views.contracts(bus) if (not status or c["status"] == status) and matches(c)]
    rows.sort(key=lambda c: (not c["extra_waiting"], _natural(c["id"])))
    pages = max(1, -(-len(rows) // PAGE))
    page = views.page_number(request.query_params.get("page"), pages)
    return render(
        request,
        "contracts.html",
        user,
        contracts=rows[(page - 1) * PAGE : page * PAGE],
        page=page,
        pages=pages,
        total=len(rows),
        status=status,
        q=q,
        experts=experts,
    )


def _natural(text: str) -> tuple[int | str, ...]:
    """c2 before c10: the digits compared as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, user: StaffUser) -> Response:
    entries = await views.audit_log(request.app.state.bus)
    pages = max(1, -(-len(entries) // AUDIT_PAGE))
    page = views.page_number(request.query_params.get("page"), pages)
    return render(
        request,
        "audit.html",
        user,
        entries=entries[(page - 1) * AUDIT_PAGE : page * AUDIT_PAGE],
        page=page,
        pages=pages,
    )


AUDIT_PAGE = 30


@router.get("/coverage", response_class=HTMLResponse)
async def coverage(request: Request, user: StaffUser) -> Response:
    return render(request, "coverage.html", user, rows=await views.unit_coverage(request.app.state.bus))


@router.get("/assign", response_class=HTMLResponse)
async def assign_form(request: Request, user: StaffUser) -> Response:
    return await _assign_page(request, user, form=dict(request.query_params), errors={})


@router.post("/assign", response_class=HTMLResponse)
async def assign(request: Request, user: StaffUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.assign(request.app.state.bus, user, form)
    return await _assign_page(request, user, form=form if errors else {}, errors=errors, done=not errors)


async def _assign_page(
    request: Request,
    user: User,
    *,
    form: dict[str, str],
    errors: dict[str, Any],
    done: bool = False,
) -> Response:
    """The manual assignment's form, with its pickers."""
    return render(
        request,
        "assign.html",
        user,
        status_code=422 if errors else 200,
        form=form,
        errors=errors,
        done=done,
        **await _pickers(request, form),
    )


async def _pickers(request: Request, form: dict[str, str]) -> dict[str, Any]:
    """Pickers, not typed ids: the requests waiting, the experts and the active contracts with
    their expert's name (the request in the link from the board chosen already). `?q=` narrows
    the experts and contracts to a name or id; each list shows at most PICK of them."""
    bus = request.app.state.bus
    names = await directory.names(bus)
    waiting = await views.open_requests(bus)
    chosen = form.get("request_id", "")
    if chosen and all(r["id"] != chosen for r in waiting):  # an approved request (from the board's link)
        waiting = [*(await views.unit_requests(bus, None, chosen)), *waiting]
    q = request.query_params.get("q", "").strip().lower()[:64]

    def wanted(expert_id: str) -> bool:
        e = names["experts"].get(expert_id, {})
        return (
            not q or q in expert_id.lower() or q in str(e.get("name", "")).lower() or expert_id == form.get("expert_id")
        )

    experts = sorted(
        (e for e in names["experts"].values() if wanted(e["id"])), key=lambda e: (e["name"], _natural(e["id"]))
    )
    contracts = sorted(
        (c for c in await views.contracts(bus) if c["status"] == "active" and wanted(c["expert_id"])),
        key=lambda c: _natural(c["id"]),
    )
    return {
        "waiting": waiting[:PICK],
        "names": names,
        "experts": experts[:PICK],
        "contracts": contracts[:PICK],
        "q": q,
        "cut": max(len(experts), len(contracts), len(waiting)) > PICK,
    }


#: The most options a picker holds: a country's thousands of experts would make a page of megabytes.
PICK = 200


@router.get("/contracts/{cid}", response_class=HTMLResponse)
async def contract(request: Request, user: StaffUser, cid: str) -> Response:
    """One contract: its balance, a chart of its use over time (from the audit trail), the extra
    hours waiting for a decision, and its lifecycle (suspend, resume, end)."""
    return await _contract_page(request, user, cid)


@router.post("/contracts/{cid}/status", response_class=HTMLResponse)
async def contract_status(request: Request, user: StaffUser, cid: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.change_contract_status(
        request.app.state.bus, user, cid, form.get("to", ""), form.get("reason", "")
    )
    return await _contract_page(
        request, user, cid, errors=errors, form=form if errors else {}, saved="status" if not errors else None
    )


@router.post("/contracts/{cid}/extra", response_class=HTMLResponse)
async def extra_hours(request: Request, user: StaffUser, cid: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    errors = await actions.decide_extra_hours(
        request.app.state.bus, user, form.get("assignment_id", ""), form.get("decision", ""), form.get("comment", "")
    )
    return await _contract_page(
        request, user, cid, errors=errors, form=form if errors else {}, saved="extra" if not errors else None
    )


async def _contract_page(
    request: Request,
    user: User,
    cid: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    saved: str | None = None,
) -> Response:
    bus = request.app.state.bus
    found = next(iter(await views.contracts(bus, cid)), None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no contract {cid}")
    cap = round(found["hours_cap"] * 60)
    points = chart.use_over_time(await bus.audit(None, limit=5000), cid, cap)
    names = await directory.names(bus)
    expert = names["experts"].get(found["expert_id"], {})
    return render(
        request,
        "contract.html",
        user,
        status_code=422 if errors else 200,
        c=found,
        points=points,
        chart=chart.svg(points, cap, page_language(request, user)),
        errors=errors or {},
        form=form or {},
        saved=saved,
        expert=expert,
        units=names["units"],
    )
