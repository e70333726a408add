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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from services.matcher import proposals
from services.matcher.db import (
    ContractCopy,
    Exclusion,
    ExpertCopy,
    PlanRun,
    Proposal,
    RequestRow,
    TravelCopy,
    UnitCopy,
)
from services.matcher.handlers import withdraw
from services.matcher.placement import (
    Reference,
    Room,
    current_room,
    live_proposals,
    manual_requests,
    trainee_time,
    whole,
)
from services.matcher.solver import Assignment, Plan, Unassigned, solve
from services.matcher.solver.limits import Limits, weight
from shared import messages as m
from shared import subjects as s
from shared.clock import utcnow
from shared.db import add_event, reader, retrying, transaction
from shared.limits import TEXT, clip
from shared.rules import Rule, Violation, broken, render
from shared.scenario import Contract, Expert, Horizon, Pin, Request, Scenario, TravelTime, Unit
from shared.scenario import Exclusion as Excluded
from shared.statuses import FINISHED, HELD, LIVE, MATCHING, AssignmentStatus, ContractStatus, RequestStatus

log = structlog.get_logger("planner")
# The copies' units and travel times are stored records: validated into the scenario's models.
_UNITS = TypeAdapter(list[Unit])
_TRAVEL = TypeAdapter(list[TravelTime])


@dataclass
class Snapshot:
    scenario: Scenario
    requests: dict[str, str]  # the requests planned for: id -> status when the snapshot was taken
    reasons: dict[str, str] = field(default_factory=dict)  # id -> reason code told, when there is one
    pins: dict[tuple[str, int], Proposal] = field(default_factory=dict)
    # Per request, its live proposals as (id, status) when the snapshot was taken: `write` writes
    # nothing for a request whose proposals moved since (an approval landed during the solve).
    seen: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # Proposals whose hours the ledger holds (approved, or counted in a balance already).
    held: set[str] = field(default_factory=set)
    # What no longer fits, for staff: over-committed approved work, pending proposals let go.
    overcommitted: list[str] = field(default_factory=list)
    broken: list[Violation] = field(default_factory=list)  # the notes about rules, as data
    remarks: list[str] = field(default_factory=list)  # the notes about no rule (the engine's words)
    # The pending proposals that still fit, given to the engine to continue from (`plan_for`).
    hints: list[Pin] = field(default_factory=list)


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
    return row.record.get("status", ContractStatus.ACTIVE) == ContractStatus.ACTIVE


def _frozen(row: ContractCopy, held: list[Proposal]) -> Contract:
    """A contract no longer active (suspended, exhausted, expired, terminated) that still carries
    approved work: kept so that work stays pinned, with room for exactly that work and no more."""
    c = _contract(row, held)
    minutes = sum(p.minutes for p in held)
    return c.model_copy(
        update={
            "hours_cap": c.hours_used + minutes / 60,
            "budget_cap_vnd": None if c.budget_cap_vnd is None else c.budget_used_vnd + sum(p.cost_vnd for p in held),
            "max_concurrent": c.active_assignments + len(held),
        }
    )


def _contracts(session: Session, held: dict[str, list[Proposal]]) -> list[Contract]:
    """Only active contracts take new work; the others appear only to carry approved work."""
    out = []
    for row in session.exec(select(ContractCopy).order_by(ContractCopy.id)):
        if _active(row):
            out.append(_contract(row, held.get(row.id, [])))
        elif held.get(row.id):
            out.append(_frozen(row, held[row.id]))
    return out


def _expert(row: ExpertCopy, held_minutes: int, learning_minutes: int = 0) -> Expert:
    """`learning_minutes`: the live proposals' trainee time (in no ledger balance), taken apart."""
    rec = dict(row.record)
    if row.committed_hours is not None:
        rec["committed_hours"] = max(0.0, row.committed_hours - held_minutes / 60)
    if learning_minutes:
        rec["committed_hours"] = float(rec.get("committed_hours", 0)) + learning_minutes / 60
    return Expert.model_validate(rec)


def snapshot(session: Session, today: dt.date, keep: str | None = None) -> Snapshot:
    """What the engine plans from; `keep` keeps one request even if staff assigned it by hand."""
    rows, reasons, requests = _open_requests(session, manual_requests(session) - {keep})
    active = {c.id for c in session.exec(select(ContractCopy)) if _active(c)}
    live = [p for p in session.exec(select(Proposal).where(col(Proposal.status).in_(LIVE))) if p.request_id in rows]
    # A pending proposal under a contract that stopped being active is let go (withdrawn).
    kept = [p for p in live if p.status in HELD or p.contract_id in active]
    counted = _counted(session)
    scenario = _scenario(session, today, requests, kept, counted, set(rows))
    pins = {(p.request_id, p.slot): p for p in live if p.status == AssignmentStatus.PROPOSED}
    pins.update({(p.request_id, p.slot): p for p in kept})
    seen: dict[str, set[tuple[str, str]]] = {rid: set() for rid in rows}
    for p in live:
        seen[p.request_id].add((p.id, p.status))
    return Snapshot(
        scenario=scenario,
        requests=rows,
        reasons=reasons,
        pins=pins,
        held={p.id for p in kept if p.status in HELD or p.id in counted},
        seen={rid: frozenset(v) for rid, v in seen.items()},
    )


def _open_requests(session: Session, manual: set[str]) -> tuple[dict[str, str], dict[str, str], list[Request]]:
    """The requests still needing an expert, but those staff assigned by hand: (id -> status,
    id -> reason code told, the requests). Columns, not row objects, and each request parsed once
    (a request never changes once submitted): a country's snapshot reads 10,000 of them."""
    rows: dict[str, str] = {}
    reasons: dict[str, str] = {}
    requests: list[Request] = []
    for rid, status, code, record in session.execute(
        select(RequestRow.id, RequestRow.status, RequestRow.reason_code, RequestRow.record).where(
            col(RequestRow.status).in_(MATCHING)
        )
    ):
        if rid not in manual:
            rows[rid] = status
            if code:
                reasons[rid] = code
            requests.append(_parsed(rid, record))
    return rows, reasons, requests


def _scenario(
    session: Session, today: dt.date, requests: list[Request], kept: list[Proposal], counted: set[str], open_: set[str]
) -> Scenario:
    """The copies with the ledger's balances, the approved work taken out of them (it is pinned),
    the kept proposals as pins, and the declined or rejected pairs as exclusions."""
    held_c, held_e = _held_usage(kept, counted)
    learning = trainee_time(session)
    units = [u.record for u in session.exec(select(UnitCopy).order_by(UnitCopy.id))]
    travel, experts, contracts = whole(
        {u["id"] for u in units},
        [{"from": t.from_unit, "to": t.to_unit, "minutes": t.minutes} for t in session.exec(select(TravelCopy))],
        [
            _expert(e, held_e.get(e.id, 0), learning.get(e.id, 0))
            for e in session.exec(select(ExpertCopy).order_by(ExpertCopy.id))
        ],
        _contracts(session, held_c),
    )
    owner = {c.id: c.expert for c in contracts}
    expert_ids = {e.id for e in experts}
    return Scenario(
        horizon=Horizon(start=today, end=max([today, *(r.deadline for r in requests)])),
        units=_UNITS.validate_python(units),
        travel_minutes=_TRAVEL.validate_python(travel),
        experts=experts,
        contracts=contracts,
        requests=sorted(requests, key=lambda r: r.id),
        pinned=[
            Pin(request=p.request_id, expert=p.expert_id, contract=p.contract_id, slot=p.slot)
            for p in kept
            if owner.get(p.contract_id) == p.expert_id
        ],
        excluded=[
            Excluded(request=x.request_id, expert=x.expert_id)
            for x in session.exec(select(Exclusion))
            if x.request_id in open_ and x.expert_id in expert_ids
        ],
    )


_PARSED: dict[str, tuple[dict[str, Any], Request]] = {}
PARSED_MAX = 50_000


def _parsed(rid: str, record: dict[str, Any]) -> Request:
    """The request's model, parsed once per record (the record compared: ids are unique only
    within one database, and tests run many in one process)."""
    hit = _PARSED.get(rid)
    if hit is not None and hit[0] == record:
        return hit[1]
    if len(_PARSED) >= PARSED_MAX:
        _PARSED.clear()
    r = Request.model_validate(record)
    _PARSED[rid] = (record, r)
    return r


def digest(scenario: Scenario) -> tuple[str, str]:
    text = scenario.model_dump_json(by_alias=True)
    return text, hashlib.sha256(text.encode()).hexdigest()


Solver = Callable[..., Plan]  # `solve`'s signature: in this thread, or in a process of its own
References = Callable[[Session], Reference]  # the leader's cache of the copies (`placement.Reference`)


def plan_for(snap: Snapshot, *, time_limit_s: float | None, workers: int, seed: int, solver: Solver = solve) -> Plan:
    """Approved work pinned, pending proposals given as the plan to continue from (a hint: the
    engine moves one only for coverage, `write` writes a move only when it pays, `worth_moving`)."""
    fit_pins(snap)
    sc = snap.scenario
    # One pass, split by what the pin is (`p not in hints` compared pydantic models pairwise: on a
    # country's 5,000 pending proposals, 25 million comparisons holding the interpreter for
    # minutes while new requests waited to be decided).
    kept: list[Pin] = []
    snap.hints = []
    for p in sc.pinned:
        (kept if snap.pins[(p.request, p.slot)].id in snap.held else snap.hints).append(p)
    snap.scenario = sc.model_copy(update={"pinned": kept})
    plan = solver(snap.scenario, time_limit_s=time_limit_s, workers=workers, seed=seed, hint=snap.hints or None)
    if plan.status == "infeasible" and snap.scenario.pinned:
        # A pin breaks a rule other than a limit (a skill or contract changed): let go of the
        # proposals staff have not decided on, keep the approved ones, and plan again.
        log.warning("pins_infeasible", reason=plan.reason)
        snap.remarks.append(clip(f"pending proposals let go: {plan.reason}", TEXT))
        snap.overcommitted.append(snap.remarks[-1])
        snap.hints = []
        plan = solver(snap.scenario, time_limit_s=time_limit_s, workers=workers, seed=seed)
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
    held: list[Pin] = []
    pending: list[Pin] = []
    for pin in sc.pinned:
        p = snap.pins[(pin.request, pin.slot)]
        (held if p.id in snap.held else pending).append(pin)
    for pin in held:
        p = snap.pins[(pin.request, pin.slot)]
        limits.take(_Use(p.expert_id, p.contract_id, p.minutes, p.cost_vnd))
    experts, contracts = _relaxed(sc, limits, snap.broken)
    kept = list(held)
    for pin in pending:
        p = snap.pins[(pin.request, pin.slot)]
        use = _Use(p.expert_id, p.contract_id, p.minutes, p.cost_vnd)
        blocker = limits.blocker(use)
        if blocker is None:
            limits.take(use)
            kept.append(pin)
        else:
            why = {"proposal": p.id, "limit": blocker}
            unfit = Violation(Rule.PENDING_UNFIT, p.request_id, p.slot, p.expert_id, p.contract_id, detail=why)
            snap.broken.append(unfit)
    snap.overcommitted += [render(v) for v in snap.broken]
    if snap.overcommitted:
        log.warning("pins_overcommitted", notes=snap.overcommitted)
    snap.scenario = sc.model_copy(update={"experts": experts, "contracts": contracts, "pinned": kept})


def _relaxed(sc: Scenario, limits: Limits, notes: list[Violation]) -> tuple[list[Expert], list[Contract]]:
    """The experts and contracts, those over-committed by approved work given exactly that room."""
    experts = []
    for e in sc.experts:
        over = -limits.expert_minutes[e.id]
        if over > 0:
            figures = {"over": over / 60, "capacity": e.capacity_hours}
            notes.append(Violation(Rule.HELD_OVER_CAPACITY, expert=e.id, detail=figures))
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
            over_limits = ", ".join(sorted(update))
            notes.append(Violation.on_contract(Rule.HELD_OVER_LIMITS, c.id, c.expert, limits=over_limits))
            c = c.model_copy(update=update)
        contracts.append(c)
    return experts, contracts


#: Requests written per transaction of a plan's write. A country's plan may move thousands of
#: proposals; written at once it held SQLite's one write lock for seconds, and every submission and
#: placement waited behind it. A chunk holds it for tens of milliseconds. And each chunk's events
#: reach contracts and the notifier at once, as a burst they handle one after another: at 25 a
#: chunk, the last of a burst's proposals was told to its parties up to half a second late
#: (2,000 x 400, a re-plan's write in the window: notified p99 515 ms; at 5, 240 ms).
WRITE_CHUNK = 5
#: The pause after each chunk: at least as long as it held the lock, and long enough that the
#: write goes at no more than WRITE_RATE requests a second. Each request the plan changes is an
#: event or two for contracts and the notifier: a country's re-plan after a load moved 3,000
#: proposals, and written as fast as the lock allowed, the 7,000 events it published took the
#: two cores from everything else for half a minute (new requests were decided in 1 to 6 s
#: instead of 0.1 to 0.7, and told to their experts 9 s late). A re-plan is background work: at
#: 20 a second rather than 50 its notifications no longer queue before the new requests' (2,000 x
#: 400: notified p99 426 ms against 849, decided p99 253 ms against 537).
WRITE_PAUSE = 1.0
WRITE_RATE = 20.0
WRITE_PAUSE_MAX_S = 5.0
#: The chunks ahead whose requests the placement leaves to the write (`write`): 50 requests, so at
#: WRITE_RATE a request waits for the plan's choice about 2.5 s at most. Reserving every request of
#: the plan until its chunk held a country's backlog: 700 open requests waited minutes for a write
#: of thousands at 20 a second, undecided.
RESERVE_CHUNKS = 50 // WRITE_CHUNK


@dataclass
class Changes:
    """What a plan changes, request by request, decided from the snapshot before anything is
    written (`changes`), then written a chunk of requests at a time (`write`)."""

    withdraw: dict[str, list[Proposal]]  # per request: pending proposals let go (no longer fit) or moved
    fresh: dict[str, list[Assignment]]  # per request: the plan's assignments not proposed yet
    requests: list[str]  # every request the write looks at, the most urgent first
    # Read from the snapshot once for the whole write (per chunk, a country's 10,000 requests'
    # slots cost 47 ms of its 115).
    by_id: dict[str, Request] = field(default_factory=dict)
    slots: dict[str, int] = field(default_factory=dict)  # per request: how many slots it has
    unassigned: dict[str, Unassigned] = field(default_factory=dict)  # the plan's, by request


def changes(snap: Snapshot, plan: Plan) -> Changes:
    """The requests whose proposals, status or reason this plan changes; the others (most of a
    country's, on a re-plan that moves little) are not read again at all."""
    planned = {(a.request, a.slot): (a.expert, a.contract) for a in plan.assignments}
    hinted = {(h.request, h.slot): (h.expert, h.contract) for h in snap.hints}
    moved = [k for k, v in hinted.items() if planned.get(k) != v]
    moving = worth_moving(snap, plan, moved)
    kept = {(p.request, p.slot) for p in snap.scenario.pinned} | (set(hinted) - set(moved) if moving else set(hinted))
    withdraw: dict[str, list[Proposal]] = {}
    for key, pin in snap.pins.items():
        if key not in kept and pin.status == AssignmentStatus.PROPOSED:
            withdraw.setdefault(pin.request_id, []).append(pin)
    fresh: dict[str, list[Assignment]] = {}
    for a in plan.assignments:
        if (a.request, a.slot) not in kept and a.request in snap.requests:
            fresh.setdefault(a.request, []).append(a)
    unassigned = {u.request: u for u in plan.unassigned}
    slots = {r.id: len(r.effective_slots()) for r in snap.scenario.requests}
    touched = set(withdraw) | set(fresh)
    for rid, status in snap.requests.items():
        u, told = unassigned.get(rid), snap.reasons.get(rid, "")
        code = u.code if u is not None else None
        if code is not None:
            if (status, told) != (RequestStatus.UNMATCHED, code):
                touched.add(rid)
        elif proposals.request_status(slots[rid], [st for _, st in snap.seen.get(rid, ())]) != status or (
            told and status != RequestStatus.UNMATCHED
        ):
            touched.add(rid)
    by_id = {r.id: r for r in snap.scenario.requests}
    order = sorted(touched, key=lambda rid: (-(by_id[rid].priority if rid in by_id else 1), rid))
    return Changes(withdraw, fresh, order, by_id, slots, unassigned)


def _write_chunk(
    session: Session,
    snap: Snapshot,
    plan: Plan,
    ch: Changes,
    ids: list[str],
    run: tuple[int, str],
    ref: Reference,
    cause: m.Message,
) -> tuple[int, list[str]]:
    """One chunk of a plan's write, in one transaction: (new proposals, requests whose new
    proposals did not fit yet). Every write is conditional on what the snapshot saw: the chunk's
    requests are locked (in id order, before their proposals, as the event handlers do), and a
    request whose live proposals moved since the snapshot (an approval, a rejection, a placement
    landed during the solve) keeps them untouched and gets nothing from this plan: the event that
    moved them plans again. New proposals must fit the room left now (`placement.current_room`):
    requests placed while the plan was solving hold hours the plan may have given to others."""
    stale = _stale(session, snap, ids)
    if stale:
        log.info("plan_stale_for_requests", requests=len(stale))
    _withdraw_moved(session, snap, ch, [rid for rid in ids if rid not in stale], cause)
    new, waiting = _propose_fresh(session, snap, ch, [rid for rid in ids if rid not in stale], run, ref, cause)
    _mark_requests(session, ch, cause, stale, ids)
    return new, waiting


def _withdraw_moved(session: Session, snap: Snapshot, ch: Changes, ids: list[str], cause: m.Message) -> None:
    """The pending proposals the plan lets go of or moves, withdrawn."""
    with session.no_autoflush:  # many UPDATEs: their events are flushed once, after them
        for rid in ids:
            gone = {
                p.id
                for p in ch.withdraw.pop(rid, [])
                if withdraw(session, p, cause, "the plan changed under it", sync=False)
            }
            if gone:  # what a later chunk of this write expects to find
                snap.seen[rid] = frozenset(x for x in snap.seen.get(rid, frozenset()) if x[0] not in gone)
    session.flush()


def _propose_fresh(
    session: Session,
    snap: Snapshot,
    ch: Changes,
    ids: list[str],
    run: tuple[int, str],
    ref: Reference,
    cause: m.Message,
) -> tuple[int, list[str]]:
    """The plan's new assignments of these requests proposed where they fit the room left now, a
    request whole or not at all: (proposals made, requests that did not fit yet)."""
    live = live_proposals(session)
    room = current_room(session, ref, live)
    todo = [rid for rid in ids if rid in ch.fresh]
    mine = set(todo)
    taken = {(p[1], p[2]) for p in live if p[1] in mine}
    names = {e.id: e.name for e in snap.scenario.experts}
    rows = {r.id: r for r in session.exec(select(RequestRow).where(col(RequestRow.id).in_(todo)))}
    new, waiting = 0, []
    for rid in todo:
        row = rows.get(rid)
        if row is None or row.status not in MATCHING:
            continue
        chosen = [a for a in ch.fresh[rid] if (a.request, a.slot) not in taken]
        if not _fits(ref, room, chosen):
            if chosen:
                waiting.append(rid)
            continue
        del ch.fresh[rid]
        for a in _trainees_fit(ref, room, chosen):
            proposals.propose(
                session,
                row,
                ch.by_id[rid],
                a,
                expert_name=names.get(a.expert, a.expert),
                plan_id=run[0],
                plan_sha=run[1],
                cause=cause,
                flush=False,
            )
            new += 1
    session.flush()
    return new, waiting


def _run(
    session: Session, snap: Snapshot, plan: Plan, ch: Changes, seconds: float, cause: m.Message, text: str, sha: str
) -> PlanRun:
    """The plan's record for the audit trail; its input is kept only when it proposes something."""
    run = PlanRun(
        input_sha256=sha,
        scenario=text if ch.fresh else "",
        status=plan.status,
        seconds=round(seconds, 3),
        objective=plan.objective.model_dump(mode="json") if plan.objective else {},
        overcommitted=snap.overcommitted or None,
    )
    session.add(run)
    session.flush()
    _tell_overcommitted(session, run, cause, snap)
    return run


def write(
    engine: Any,
    snap: Snapshot,
    plan: Plan,
    *,
    seconds: float,
    cause: m.Message,
    fence: Callable[[Session], bool] | None = None,
    references: References | None = None,
    reserved: set[str] | None = None,
) -> int | None:
    """Write what the plan decided, `WRITE_CHUNK` requests per transaction, the most urgent first,
    with a pause after each so that submissions and placements take the lock in between: the new
    proposals written, or None when this copy was deposed before the first chunk (the later
    chunks of a deposed leader are dropped; what was written stands, each request whole).

    `reserved` (the leader's, shared with its placement): the requests of the next
    `RESERVE_CHUNKS` chunks, left to the write until their chunk is written, so that a request
    whose proposal is about to move is not placed greedily in between. A request further on that
    is open is decided by the placement meanwhile (a new request waits for no plan); its chunk
    then finds it moved since the snapshot and leaves it (`_stale`). A request whose new
    proposals need room that a later chunk frees is tried once more at the end; if it still does
    not fit, it is left to the placement."""
    ch = changes(snap, plan)
    w = _Write(engine, snap, plan, ch, seconds=seconds, cause=cause, fence=fence, references=references)
    return w.all(reserved if reserved is not None else set())


@dataclass
class _Write:
    """One plan's write, a chunk of requests per transaction (`write`)."""

    engine: Any
    snap: Snapshot
    plan: Plan
    ch: Changes
    seconds: float
    cause: m.Message
    fence: Callable[[Session], bool] | None
    references: References | None
    run: tuple[int, str] | None = None  # the plan's record, once written: (id, input digest)
    text: str = ""
    sha: str = ""

    def __post_init__(self) -> None:
        self.text, self.sha = digest(self.snap.scenario)  # megabytes for a country: before the lock

    def all(self, reserved: set[str]) -> int | None:
        """Every chunk, paced; the next `RESERVE_CHUNKS` chunks' requests `reserved`. A request
        that did not fit yet is tried once more after the last chunk."""
        new, retried = 0, False
        chunks = _chunks(self.ch.requests) or [[]]
        held_back: set[str] = set()
        try:
            while chunks:
                reserved.difference_update(held_back)
                held_back = {rid for ids in chunks[: 1 + RESERVE_CHUNKS] for rid in ids}  # this one and the next
                reserved.update(held_back)
                ids = chunks.pop(0)
                done = retrying(partial(self.chunk, ids))
                if done is None:
                    if self.run is None:
                        return None
                    log.warning("plan_write_stopped_deposed", written=new)
                    break
                made, waiting, held = done
                new += made
                finished = set(ids) - set(waiting)
                self.ch.requests = [rid for rid in self.ch.requests if rid not in finished]
                if not chunks and not retried:
                    chunks, retried = _chunks([rid for rid in self.ch.requests if rid in self.ch.fresh]), True
                if chunks:
                    reserved.difference_update(finished)
                    pause(min(WRITE_PAUSE_MAX_S, max(WRITE_PAUSE * held, len(ids) / WRITE_RATE)))
        finally:
            reserved.difference_update(held_back)
        if self.run is not None:
            _record(self.engine, self.run[0], new)
        return new

    def chunk(self, ids: list[str]) -> tuple[int, list[str], float] | None:
        """One transaction: (proposals made, requests not fitting yet, seconds the lock was held),
        or None when this copy no longer leads (the fence, its first statement)."""
        with transaction(self.engine) as session:
            if self.fence is not None and not self.fence(session):
                return None
            began = time.monotonic()
            if self.run is None:
                row = _run(session, self.snap, self.plan, self.ch, self.seconds, self.cause, self.text, self.sha)
                assert row.id is not None, "flushed: the plan's record has its id"
                self.run = (row.id, row.input_sha256)
            start = self.snap.scenario.horizon.start
            ref = (
                self.references(session) if self.references is not None else Reference.read(session, start, (0, start))
            )
            made, waiting = _write_chunk(session, self.snap, self.plan, self.ch, ids, self.run, ref, self.cause)
            return made, waiting, time.monotonic() - began


def pause(seconds: float) -> None:
    """Between two chunks of a plan's write: the write lock is free for anyone else."""
    time.sleep(seconds)


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + WRITE_CHUNK] for i in range(0, len(ids), WRITE_CHUNK)]


def _record(engine: Any, run_id: int, new: int) -> None:
    with transaction(engine) as session:
        run = session.get(PlanRun, run_id)
        if run is not None:
            run.proposed = new
            if not new:
                run.scenario = ""  # nothing refers to this input: the audit trail needs only what proposed
            session.add(run)


#: A move of a pending proposal staff may be reading (older than FRESH_S) is written only when
#: the plan covers at least MOVE_GAIN more priority weight per such move, and never more than
#: MAX_MOVES of them at once; otherwise the pending proposals stay and only the rest of the plan is
#: written. Proposals younger than FRESH_S (a load, a burst placed at once minutes ago) are still
#: the plan being formed: moving them needs only that the plan covers more.
MOVE_GAIN = 2
MAX_MOVES = 50
FRESH_S = 600.0


def worth_moving(snap: Snapshot, plan: Plan, moved: list[tuple[str, int]]) -> bool:
    if not moved:
        return True
    held = {(p.request, p.slot) for p in snap.scenario.pinned} | {(h.request, h.slot) for h in snap.hints}
    now = sum(
        weight(r.priority)
        for r in snap.scenario.requests
        if all((r.id, k) in held for k in range(len(r.effective_slots())))
    )
    gain = (plan.objective.covered_weight if plan.objective else 0) - now
    fresh_after = utcnow() - dt.timedelta(seconds=FRESH_S)
    seen = [k for k in moved if _created(snap.pins[k]) < fresh_after]
    ok = gain > 0 and len(seen) <= MAX_MOVES and gain >= MOVE_GAIN * len(seen)
    log.info("plan_moves", moved=len(moved), seen_by_staff=len(seen), gain=gain, written=ok)
    return ok


def _created(p: Proposal) -> dt.datetime:
    at = p.created_at
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite gives it back naive


def _fits(ref: Reference, room: Room, chosen: list[Assignment]) -> bool:
    """Take the room of every assignment, or of none when one does not fit."""
    done: list[tuple[int, int, int, int]] = []
    for a in chosen:
        e, c = ref.e_pos.get(a.expert), ref.c_pos.get(a.contract)
        if e is None or c is None or not room.fits(e, c, a.minutes, a.cost_vnd):
            for args in done:
                room.take(*args, sign=-1)
            return False
        room.take(e, c, a.minutes, a.cost_vnd)
        done.append((e, c, a.minutes, a.cost_vnd))
    return bool(chosen)


def _trainees_fit(ref: Reference, room: Room, chosen: list[Assignment]) -> list[Assignment]:
    """The plan's trainees whose time is still free now (a placement during the solve may have
    taken it), their minutes taken; the others left out: a trainee is optional, never a reason to
    hold back a request."""
    out = []
    for a in chosen:
        k = ref.e_pos.get(a.trainee) if a.trainee else None
        if a.trainee and (k is None or room.e[k] < a.trainee_minutes):
            a = a.model_copy(update={"trainee": None, "trainee_minutes": 0})
        elif k is not None:
            room.e[k] -= a.trainee_minutes
        out.append(a)
    return out


def _stale(session: Session, snap: Snapshot, ids: list[str]) -> set[str]:
    """Lock these requests of the snapshot and name those that changed since it was taken."""
    ids = sorted(ids)
    status = dict(
        session.execute(
            select(RequestRow.id, RequestRow.status)
            .where(col(RequestRow.id).in_(ids))
            .order_by(RequestRow.id)
            .with_for_update()
        ).all()
    )
    now: dict[str, set[tuple[str, str]]] = {rid: set() for rid in ids}
    for pid, rid, st in session.execute(
        select(Proposal.id, Proposal.request_id, Proposal.status).where(
            col(Proposal.request_id).in_(ids), col(Proposal.status).in_(LIVE)
        )
    ):
        now[rid].add((pid, st))
    seen = snap.seen
    return {
        rid for rid in ids if status.get(rid, "") not in MATCHING or frozenset(now[rid]) != seen.get(rid, frozenset())
    }


def _tell_overcommitted(session: Session, run: PlanRun, cause: m.Message, snap: Snapshot) -> None:
    """Staff hear of what no longer fits when a plan finds something the plan before did not: every
    re-plan meets the same over-committed expert until staff change something, told once."""
    if not run.overcommitted:
        return
    before = session.exec(
        select(PlanRun.overcommitted).where(col(PlanRun.id) < run.id).order_by(col(PlanRun.id).desc()).limit(1)
    ).first()
    if set(run.overcommitted) <= set(before or []):
        return
    add_event(
        session,
        s.PLAN_OVERCOMMITTED,
        cause.caused(
            m.PlanOvercommitted,
            notes=[n[:2000] for n in run.overcommitted[:200]],
            plan_input_sha256=run.input_sha256,
            broken=[broken(v) for v in snap.broken[:200]],
            remarks=snap.remarks[:20],
        ),
    )


_withdraw = withdraw  # staff's manual assignment replaces a pending proposal the same way


def _mark_requests(session: Session, ch: Changes, cause: m.Message, stale: set[str], ids: list[str]) -> None:
    """Each planned request's status from its live proposals (one query for all of them), and the
    reason for those still uncovered, announced once: a request told the same reason by the plan
    before is not told again. Only rows whose status or reason changes are loaded and written."""
    unassigned, slots = ch.unassigned, ch.slots
    ids = sorted(ids)
    live: dict[str, list[str]] = {rid: [] for rid in ids}
    for rid, status in session.execute(
        select(Proposal.request_id, Proposal.status).where(
            col(Proposal.request_id).in_(ids), col(Proposal.status).in_(LIVE)
        )
    ):
        live[rid].append(status)
    told = {
        rid: (st, code, reason)
        for rid, st, code, reason in session.execute(
            select(RequestRow.id, RequestRow.status, RequestRow.reason_code, RequestRow.reason).where(
                col(RequestRow.id).in_(ids)
            )
        )
    }
    todo: list[tuple[str, str, Any]] = []  # (request, what, with): decided first, written after one read
    for rid in ids:
        before = told.get(rid)
        if before is None or before[0] in FINISHED:
            continue
        status = proposals.request_status(slots[rid], live[rid]) if rid in slots else before[0]
        u = unassigned.get(rid)
        if rid not in stale and u is not None and status == RequestStatus.OPEN:
            if before[:2] != (RequestStatus.UNMATCHED, u.code):
                todo.append((rid, "unmatched", (u, before)))
            continue
        if status == RequestStatus.OPEN and before[0] == RequestStatus.UNMATCHED:
            continue  # still uncovered: its reason stands (told once) until the next decision
        if status != before[0] or (status != RequestStatus.UNMATCHED and before[1]):
            todo.append((rid, "status", status))
    rows = {
        r.id: r for r in session.exec(select(RequestRow).where(col(RequestRow.id).in_([rid for rid, _, _ in todo])))
    }
    for rid, what, arg in todo:
        row = rows[rid]
        if what == "unmatched":
            u, before = arg
            proposals.unmatched(session, row, u.code, u.message, cause, before=before)
            continue
        row.status = arg
        if arg != RequestStatus.OPEN:
            row.reason_code, row.reason = "", ""
        session.add(row)


def replan(
    engine: Any,
    *,
    today: dt.date,
    time_limit_s: float | None,
    workers: int,
    seed: int,
    cause: m.Message,
    fence: Callable[[Session], bool] | None = None,
    solver: Solver = solve,
    references: References | None = None,
    reserved: set[str] | None = None,
) -> int:
    """One re-solve: read, solve outside any transaction, then write a chunk of requests per
    transaction (`write`).

    `time_limit_s` None: sized to the problem (`solver.time_for`: about 1 s for a province, 10 s
    for 2,000 requests, a minute for a country; new requests do not wait for it, they are placed
    at once, so a longer re-plan buys quality without costing latency). `solver`: `solve`, or the same run in a
    process of its own (`services.matcher.solving`). `fence`, first thing in that transaction, says
    whether this copy may still write the plan (it still leads the term it planned under, and no
    newer term has written): if not, nothing more is."""
    began = time.monotonic()
    with Session(reader(engine)) as session:  # a read: no write lock held while it reads
        snap = snapshot(session, today)
    if not snap.requests:
        return 0
    read_s = time.monotonic() - began
    started = time.monotonic()
    plan = plan_for(snap, time_limit_s=time_limit_s, workers=workers, seed=seed, solver=solver)
    seconds = time.monotonic() - started
    written = time.monotonic()
    new = write(engine, snap, plan, seconds=seconds, cause=cause, fence=fence, references=references, reserved=reserved)
    if new is None:
        log.warning("plan_dropped_deposed", requests=len(snap.requests), seconds=round(seconds, 2))
        return 0
    log.info(
        "replanned",
        status=plan.status,
        requests=len(snap.requests),
        proposed=new,
        snapshot_s=round(read_s, 2),
        seconds=round(seconds, 2),
        write_s=round(time.monotonic() - written, 2),
    )
    return new
