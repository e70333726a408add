"""Re-planning: from the matcher's tables to a scenario, through the engine, back to proposals.

What the engine sees: every request still needing an expert; experts and contracts with the
ledger's balances; pending proposals and approved slots of those requests as pins (approved
ones are taken out of the balances first, since the ledger already counts them); every
declined or rejected pair as an exclusion. Its new assignments become proposals for staff.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlmodel import Session, select

from services.matcher.db import (
    HELD,
    LIVE,
    ContractCopy,
    Exclusion,
    ExpertCopy,
    PlanRun,
    Proposal,
    RequestRow,
    TravelCopy,
    UnitCopy,
)
from services.matcher.handlers import OPEN, refresh_request, withdraw
from services.matcher.solver import Plan, solve
from services.matcher.solver.limits import Limits
from shared import messages as m
from shared import subjects as s
from shared.db import add_event, retrying, transaction
from shared.limits import TEXT, clip
from shared.scenario import Contract, Expert, Request, Scenario

log = structlog.get_logger("planner")


@dataclass
class Snapshot:
    scenario: Scenario
    requests: dict[str, RequestRow]
    pins: dict[tuple[str, int], Proposal] = field(default_factory=dict)
    # Per request, its live proposals as (id, status) when the snapshot was taken: `apply` writes
    # nothing for a request whose proposals moved since (an approval landed during the solve).
    seen: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # Proposals whose hours the ledger holds (approved, or counted in a balance already).
    held: set[str] = field(default_factory=set)
    # What no longer fits, for staff: over-committed approved work, pending proposals let go.
    overcommitted: list[str] = field(default_factory=list)


def _counted(session: Session) -> set[str]:
    """Assignments the ledger's balances already include, whether or not their approval has reached
    this service yet (a balance and its approval travel on different subjects)."""
    return {a for row in session.exec(select(ContractCopy.counted)) if row for a in row.split(",") if a}


def _held_usage(proposals: list[Proposal], counted: set[str]) -> tuple[dict[str, list[Proposal]], dict[str, int]]:
    by_contract: dict[str, list[Proposal]] = {}
    by_expert: dict[str, int] = {}
    for p in proposals:
        if p.status in HELD or p.id in counted:
            by_contract.setdefault(p.contract_id, []).append(p)
            by_expert[p.expert_id] = by_expert.get(p.expert_id, 0) + p.minutes
    return by_contract, by_expert


def _contract(row: ContractCopy, held: list[Proposal]) -> Contract:
    rec = dict(row.record)
    if row.hours_used is not None:
        rec["hours_used"] = max(0.0, row.hours_used - sum(p.minutes for p in held) / 60)
        rec["budget_used_vnd"] = max(0, (row.budget_used_vnd or 0) - sum(p.cost_vnd for p in held))
        rec["active_assignments"] = max(0, (row.active_assignments or 0) - len(held))
    return Contract.model_validate(rec)


def _active(row: ContractCopy) -> bool:
    return row.record.get("status", "active") == "active"


def _frozen(row: ContractCopy, held: list[Proposal]) -> Contract:
    """A contract no longer active (suspended, exhausted, expired, terminated) that still carries
    approved work: kept so that work stays pinned, with room for exactly that work and no more."""
    c = _contract(row, held)
    minutes = sum(p.minutes for p in held)
    return c.model_copy(update={
        "hours_cap": c.hours_used + minutes / 60,
        "budget_cap_vnd": None if c.budget_cap_vnd is None else c.budget_used_vnd + sum(p.cost_vnd for p in held),
        "max_concurrent": c.active_assignments + len(held),
    })


def _contracts(session: Session, held: dict[str, list[Proposal]]) -> list[Contract]:
    """Only active contracts take new work; the others appear only to carry approved work."""
    out = []
    for row in session.exec(select(ContractCopy).order_by(ContractCopy.id)):
        if _active(row):
            out.append(_contract(row, held.get(row.id, [])))
        elif held.get(row.id):
            out.append(_frozen(row, held[row.id]))
    return out


def _expert(row: ExpertCopy, held_minutes: int) -> Expert:
    rec = dict(row.record)
    if row.committed_hours is not None:
        rec["committed_hours"] = max(0.0, row.committed_hours - held_minutes / 60)
    return Expert.model_validate(rec)


def _whole(
    units: set[str], travel: list[dict[str, Any]], experts: list[Expert], contracts: list[Contract]
) -> tuple[list[dict[str, Any]], list[Expert], list[Contract]]:
    """The copies as far as they are whole. Units, experts and contracts arrive on subjects of their
    own, in any order: plan without what refers to something not arrived yet; its arrival is a
    change that plans again."""
    travel = [t for t in travel if t["from"] in units and t["to"] in units]
    experts = [e for e in experts if e.home_unit in units]
    known = {e.id for e in experts}
    contracts = [c for c in contracts if c.expert in known and set(c.scope_units or ()) <= units]
    return travel, experts, contracts


def manual_requests(session: Session) -> set[str]:
    """Requests staff assigned by hand: left to staff, since a forced assignment may break a rule
    the engine would then refuse to keep (its usage is in the ledger's balances already)."""
    runs = select(PlanRun.id).where(PlanRun.status == "manual")
    stmt = select(Proposal.request_id).where(Proposal.status.in_(LIVE), Proposal.plan_id.in_(runs))  # type: ignore[attr-defined, union-attr]
    return set(session.exec(stmt))


def snapshot(session: Session, today: dt.date, keep: str | None = None) -> Snapshot:
    """What the engine plans from; `keep` keeps one request even if staff assigned it by hand."""
    manual = manual_requests(session) - {keep}
    rows = {
        r.id: r
        for r in session.exec(select(RequestRow).where(RequestRow.status.in_(OPEN)))  # type: ignore[attr-defined]
        if r.id not in manual
    }
    active = {c.id for c in session.exec(select(ContractCopy)) if _active(c)}
    # A pending proposal under a contract that stopped being active is let go (withdrawn).
    proposals = [
        p for p in session.exec(select(Proposal).where(Proposal.status.in_(LIVE)))  # type: ignore[attr-defined]
        if p.request_id in rows and (p.status in HELD or p.contract_id in active)
    ]
    held_c, held_e = _held_usage(proposals, _counted(session))
    requests = [Request.model_validate(r.record) for r in rows.values()]
    units = [u.record for u in session.exec(select(UnitCopy).order_by(UnitCopy.id))]
    travel, experts, contracts = _whole(
        {u["id"] for u in units},
        [{"from": t.from_unit, "to": t.to_unit, "minutes": t.minutes} for t in session.exec(select(TravelCopy))],
        [_expert(e, held_e.get(e.id, 0)) for e in session.exec(select(ExpertCopy).order_by(ExpertCopy.id))],
        _contracts(session, held_c),
    )
    owner = {c.id: c.expert for c in contracts}
    expert_ids = {e.id for e in experts}
    scenario = Scenario(
        horizon={"start": today, "end": max([today, *(r.deadline for r in requests)])},
        units=units,
        travel_minutes=travel,
        experts=experts,
        contracts=contracts,
        requests=sorted(requests, key=lambda r: r.id),
        pinned=[{"request": p.request_id, "expert": p.expert_id, "contract": p.contract_id, "slot": p.slot}
                for p in proposals if owner.get(p.contract_id) == p.expert_id],
        excluded=[
            {"request": x.request_id, "expert": x.expert_id}
            for x in session.exec(select(Exclusion)) if x.request_id in rows and x.expert_id in expert_ids
        ],
    )
    live = [p for p in session.exec(select(Proposal).where(Proposal.status.in_(LIVE))) if p.request_id in rows]  # type: ignore[attr-defined]
    pins = {(p.request_id, p.slot): p for p in live if p.status == "pending"}
    pins.update({(p.request_id, p.slot): p for p in proposals})
    seen: dict[str, set[tuple[str, str]]] = {rid: set() for rid in rows}
    for p in live:
        seen[p.request_id].add((p.id, p.status))
    counted = _counted(session)
    held = {p.id for p in proposals if p.status in HELD or p.id in counted}
    return Snapshot(scenario=scenario, requests=rows, pins=pins, held=held,
                    seen={rid: frozenset(v) for rid, v in seen.items()})


def digest(scenario: Scenario) -> tuple[str, str]:
    text = scenario.model_dump_json(by_alias=True)
    return text, hashlib.sha256(text.encode()).hexdigest()


def plan_for(snap: Snapshot, *, time_limit_s: float, workers: int, seed: int) -> Plan:
    fit_pins(snap)
    plan = solve(snap.scenario, time_limit_s=time_limit_s, workers=workers, seed=seed)
    if plan.status == "infeasible" and snap.scenario.pinned:
        # A pin breaks a rule other than a limit (a skill or contract changed): let go of the
        # proposals staff have not decided on, keep the approved ones, and plan again.
        log.warning("pins_infeasible", reason=plan.reason)
        held = [p for p in snap.scenario.pinned if snap.pins[(p.request, p.slot)].id in snap.held]
        snap.overcommitted.append(clip(f"pending proposals let go: {plan.reason}", TEXT))
        snap.scenario = snap.scenario.model_copy(update={"pinned": held})
        plan = solve(snap.scenario, time_limit_s=time_limit_s, workers=workers, seed=seed)
    return plan


@dataclass(frozen=True)
class _Use:
    """A pin's draw on the limits, in the shape `Limits` takes."""

    expert: str
    contract: str
    minutes: int
    cost: int


def fit_pins(snap: Snapshot) -> None:
    """Pins that no longer fit never stop matching. Approved work stays: where it alone is over
    an expert's availability or a contract's limits (availability lowered, a balance moved), that
    expert or contract gets room for exactly that work and no more, and staff are told. A pending
    proposal that no longer fits is let go (withdrawn, since staff could not approve it); the
    other pins and every other request are planned as usual."""
    sc = snap.scenario
    limits = Limits.of(sc)
    held, pending = [], []
    for pin in sc.pinned:
        p = snap.pins[(pin.request, pin.slot)]
        (held if p.id in snap.held else pending).append(pin)
    for pin in held:
        p = snap.pins[(pin.request, pin.slot)]
        limits.take(_Use(p.expert_id, p.contract_id, p.minutes, p.cost_vnd))  # type: ignore[arg-type]
    experts, contracts = _relaxed(sc, limits, snap.overcommitted)
    kept = list(held)
    for pin in pending:
        p = snap.pins[(pin.request, pin.slot)]
        use = _Use(p.expert_id, p.contract_id, p.minutes, p.cost_vnd)
        blocker = limits.blocker(use)  # type: ignore[arg-type]
        if blocker is None:
            limits.take(use)  # type: ignore[arg-type]
            kept.append(pin)
        else:
            snap.overcommitted.append(
                f"proposal {p.id} ({p.request_id}/{p.slot} -> {p.expert_id}) no longer fits: {blocker}")
    if snap.overcommitted:
        log.warning("pins_overcommitted", notes=snap.overcommitted)
    snap.scenario = sc.model_copy(update={"experts": experts, "contracts": contracts, "pinned": kept})


def _relaxed(sc: Scenario, limits: Limits, notes: list[str]) -> tuple[list[Expert], list[Contract]]:
    """The experts and contracts, those over-committed by approved work given exactly that room."""
    experts = []
    for e in sc.experts:
        over = -limits.expert_minutes[e.id]
        if over > 0:
            notes.append(f"expert {e.id}: approved work is {over / 60:g} h over the availability of "
                         f"{e.capacity_hours:g} h; it is kept, nothing new is planned for this expert")
            e = e.model_copy(update={"capacity_hours": e.capacity_hours + over / 60})
            limits.expert_minutes[e.id] = 0
        experts.append(e)
    contracts = []
    for c in sc.contracts:
        update: dict[str, Any] = {}
        if limits.contract_minutes[c.id] < 0:
            update["hours_cap"] = c.hours_cap - limits.contract_minutes[c.id] / 60
            limits.contract_minutes[c.id] = 0
        budget = limits.contract_budget[c.id]
        if budget is not None and budget < 0:
            update["budget_cap_vnd"] = (c.budget_cap_vnd or 0) - budget
            limits.contract_budget[c.id] = 0
        if limits.contract_slots[c.id] < 0:
            update["max_concurrent"] = c.max_concurrent - limits.contract_slots[c.id]
            limits.contract_slots[c.id] = 0
        if update:
            notes.append(f"contract {c.id}: approved work is over its limits ({', '.join(sorted(update))}); "
                         "it is kept, nothing new is planned under this contract")
            c = c.model_copy(update=update)
        contracts.append(c)
    return experts, contracts


def apply(session: Session, snap: Snapshot, plan: Plan, *, seconds: float, cause: m.Message) -> int:
    """Write what the plan decided; returns the number of new proposals. Every write is
    conditional on what the snapshot saw: the requests are locked (in id order, before their
    proposals, as the event handlers do), and a request whose live proposals moved since the
    snapshot (an approval, a rejection landed during the solve) keeps them untouched and gets
    nothing from this plan: the event that moved them plans again."""
    text, sha = digest(snap.scenario)
    run = PlanRun(input_sha256=sha, scenario=text, status=plan.status, seconds=round(seconds, 3),
                  objective=plan.objective.model_dump(mode="json") if plan.objective else {},
                  overcommitted=snap.overcommitted or None)
    session.add(run)
    session.flush()
    _tell_overcommitted(session, run, cause)
    stale = _stale(session, snap)
    if stale:
        log.info("plan_stale_for_requests", requests=sorted(stale))
    kept = {(p.request, p.slot) for p in snap.scenario.pinned}
    for key, pin in snap.pins.items():
        if key not in kept and pin.request_id not in stale:
            withdraw(session, pin, cause, "the plan changed under it")
    new = 0
    by_id = {r.id: r for r in snap.scenario.requests}
    for a in plan.assignments:
        if (a.request, a.slot) in kept or a.request in stale:
            continue
        row = session.get(RequestRow, a.request)
        if row is None or row.status not in OPEN or _slot_taken(session, a.request, a.slot):
            continue
        p = Proposal(id=f"a-{uuid.uuid4().hex[:10]}", request_id=a.request, slot=a.slot, expert_id=a.expert,
                     contract_id=a.contract, mode=a.mode, travel_minutes=a.travel_minutes,
                     minutes=a.minutes, cost_vnd=a.cost_vnd, plan_id=run.id)
        session.add(p)
        session.flush()  # the partial unique index sees it before the next slot is checked
        add_event(session, s.ASSIGNMENT_PROPOSED, _on_behalf(row, cause).caused(
            m.AssignmentProposed, assignment_id=p.id, request=by_id[a.request], slot=a.slot,
            expert_id=a.expert, expert_name=_expert_name(snap.scenario, a.expert), contract_id=a.contract,
            mode=a.mode, travel_minutes=a.travel_minutes, minutes=a.minutes, cost_vnd=a.cost_vnd,
            explanation=_explanation(a), plan_input_sha256=sha,
        ))
        new += 1
    run.proposed = new
    session.flush()
    _mark_requests(session, snap, plan, cause, stale)
    return new


def _stale(session: Session, snap: Snapshot) -> set[str]:
    """Lock the snapshot's requests and name those that changed since it was taken."""
    ids = sorted(snap.requests)
    rows = {r.id: r for r in session.exec(
        select(RequestRow).where(RequestRow.id.in_(ids)).order_by(RequestRow.id).with_for_update()  # type: ignore[attr-defined]
    )}
    now: dict[str, set[tuple[str, str]]] = {rid: set() for rid in ids}
    live = select(Proposal).where(Proposal.request_id.in_(ids), Proposal.status.in_(LIVE))  # type: ignore[attr-defined]
    for p in session.exec(live):
        now[p.request_id].add((p.id, p.status))
    seen = snap.seen
    return {rid for rid in ids
            if rid not in rows or rows[rid].status not in OPEN or frozenset(now[rid]) != seen.get(rid, frozenset())}


def _tell_overcommitted(session: Session, run: PlanRun, cause: m.Message) -> None:
    """Staff hear of what no longer fits when a plan finds something the plan before did not: every
    re-plan meets the same over-committed expert until staff change something, told once."""
    if not run.overcommitted:
        return
    before = session.exec(select(PlanRun.overcommitted).where(PlanRun.id < run.id)  # type: ignore[operator]
                          .order_by(PlanRun.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if set(run.overcommitted) <= set(before or []):
        return
    add_event(session, s.PLAN_OVERCOMMITTED, cause.caused(
        m.PlanOvercommitted, notes=[n[:2000] for n in run.overcommitted[:200]], plan_input_sha256=run.input_sha256))


def _slot_taken(session: Session, request_id: str, slot: int) -> bool:
    stmt = select(Proposal.id).where(
        Proposal.request_id == request_id, Proposal.slot == slot, Proposal.status.in_(LIVE)  # type: ignore[attr-defined]
    )
    return session.exec(stmt).first() is not None


def _on_behalf(row: RequestRow, cause: m.Message) -> m.Message:
    """A plan answers many changes at once; what it decides for one request carries the
    correlation id of the last message that acted on that request."""
    return cause.model_copy(update={"correlation_id": row.correlation_id}) if row.correlation_id else cause


_withdraw = withdraw  # staff's manual assignment replaces a pending proposal the same way


def _expert_name(scenario: Scenario, expert_id: str) -> str:
    return next((e.name for e in scenario.experts if e.id == expert_id), expert_id)


def _explanation(a: Any) -> dict[str, Any]:
    exp = getattr(a, "explanation", None)
    if exp is None:
        return {}
    return exp.model_dump(mode="json") if hasattr(exp, "model_dump") else dict(exp)


def _mark_requests(session: Session, snap: Snapshot, plan: Plan, cause: m.Message, stale: set[str]) -> None:
    unassigned = {u.request: u for u in plan.unassigned}
    for rid in snap.requests:
        if rid in stale:
            refresh_request(session, rid)
            continue
        row = session.get(RequestRow, rid)
        # Told once: refresh_request turns an unmatched request back to open, so compare with
        # what the request said before this plan, or every re-plan would announce it again.
        before = (row.status, row.reason_code, row.reason) if row is not None else None
        refresh_request(session, rid)
        u = unassigned.get(rid)
        if row is None or u is None or row.status not in ("open", "unmatched"):
            continue
        code, text = u.code, clip(u.message, TEXT)
        row.status, row.reason_code, row.reason = "unmatched", code, text
        session.add(row)
        if before != ("unmatched", code, text):
            add_event(session, s.REQUEST_UNMATCHED, _on_behalf(row, cause).caused(
                m.RequestUnmatched, request_id=rid, unit_id=row.unit_id, title=row.record.get("title", ""),
                reason_code=code, reason=text))


def _apply_in_transaction(engine: Any, snap: Snapshot, plan: Plan, seconds: float, cause: m.Message,
                          fence: Callable[[Session], bool] | None) -> int | None:
    with transaction(engine) as session:
        if fence is not None and not fence(session):
            return None
        return apply(session, snap, plan, seconds=seconds, cause=cause)


def replan(engine: Any, *, today: dt.date, time_limit_s: float, workers: int, seed: int, cause: m.Message,
           fence: Callable[[Session], bool] | None = None) -> int:
    """One re-solve: read, solve outside any transaction, then write in one transaction.

    `fence`, first thing in that transaction, says whether this copy may still write the plan (it
    still leads the term it planned under, and no newer term has written): if not, nothing is."""
    with Session(engine) as session:
        snap = snapshot(session, today)
    if not snap.requests:
        return 0
    started = time.monotonic()
    plan = plan_for(snap, time_limit_s=time_limit_s, workers=workers, seed=seed)
    seconds = time.monotonic() - started
    new = retrying(lambda: _apply_in_transaction(engine, snap, plan, seconds, cause, fence))
    if new is None:
        log.warning("plan_dropped_deposed", requests=len(snap.requests), seconds=round(seconds, 2))
        return 0
    log.info("replanned", status=plan.status, requests=len(snap.requests), proposed=new, seconds=round(seconds, 2))
    return new
