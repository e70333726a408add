"""Deciding a request at once: placed into the current plan, or told why nothing fits.

A request that needs an expert (new, declined, rejected, its contract stopped) is decided in
milliseconds, whatever the size of the backlog: its options are computed from the copies (the
same vectorised rules the engine's options table uses), each slot takes the best-ranked option
that fits the room left (every live proposal's hours and money already taken out of the ledger's
balances), and the independent validator checks the choice before it is written. The background
re-plan (`planner`) then improves the whole plan.

- `Reference`: the copies (units, travel, experts, contracts) as one scenario without requests,
  with their arrays; built again only when a copy changed (the `reference` change counter) or the
  day did.
- `current_room`: what is left under every limit, read from the database in three queries; the
  re-plan's writes check their proposals against it too, so a placement made during a solve and
  the plan written after it never share the same hours.
- `place_open`: one short transaction deciding up to `batch` waiting requests (for about
  `ROUND_S`), most urgent first, new ones before those open again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import structlog
from sqlalchemy import func
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
from services.matcher.scarcity import SAMPLE, WINDOW_DAYS, Demand, price
from services.matcher.solver import Assignment, Plan, trainee
from services.matcher.solver.candidates import score
from services.matcher.solver.explain import BLOCKERS, explanation
from services.matcher.solver.greedy import Room as GreedyRoom
from services.matcher.solver.options import Option, Travel
from services.matcher.solver.table import ExpertArrays, _slot_rows, why_no_option
from services.matcher.solver.validate import validate
from shared import messages as m
from shared.rules import Reason, reason_text
from shared.scenario import Contract, Expert, Request, Scenario, minutes
from shared.statuses import COVERING, LIVE, ContractStatus, RequestStatus, sql_words

log = structlog.get_logger("placement")

#: Requests decided per transaction at most, and the time a transaction may take deciding them: a
#: burst (a load, a restart, a re-plan's leftovers) is decided in short transactions that let
#: every other writer in between, and a new request waits for one of them at most. At 10 to 40
#: ms a request under load, rounds of 100 held the lock (and the interpreter) 1 to 4.7 s.
BATCH = 100
ROUND_S = 0.25
#: The best-ranked options of a slot written into a placement's input for the audit trail.
AUDIT_OPTIONS = 12
REFERENCE = "reference"  # the change counter the copies' handlers raise


def whole(
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
    stmt = select(Proposal.request_id).where(col(Proposal.status).in_(LIVE), col(Proposal.plan_id).in_(runs))
    return set(session.exec(stmt))


@dataclass
class Reference:
    """The copies as the engine reads them, for deciding one request at a time."""

    sc: Scenario  # units, travel, experts, every contract (active or not); no requests
    travel: Travel
    ex: ExpertArrays
    active: np.ndarray  # per contract position: takes new work
    e_pos: dict[str, int]
    c_pos: dict[str, int]
    key: tuple[int, dt.date]
    demand: Demand | None = None  # the requests seen, as the sample of what comes (`scarcity`)

    @classmethod
    def read(
        cls, session: Session, today: dt.date, key: tuple[int, dt.date], scarcity_weight: float | None = None
    ) -> Reference:
        units = [u.record for u in session.exec(select(UnitCopy).order_by(UnitCopy.id))]
        rows = list(session.exec(select(ContractCopy).order_by(ContractCopy.id)))
        travel, experts, contracts = whole(
            {u["id"] for u in units},
            [{"from": t.from_unit, "to": t.to_unit, "minutes": t.minutes} for t in session.exec(select(TravelCopy))],
            [Expert.model_validate(e.record) for e in session.exec(select(ExpertCopy).order_by(ExpertCopy.id))],
            [Contract.model_validate(c.record) for c in rows],
        )
        status = {c.id: c.record.get("status", ContractStatus.ACTIVE) for c in rows}
        sc = Scenario.model_validate(
            {
                "horizon": {"start": today, "end": today},
                "units": units,
                "travel_minutes": travel,
                "experts": [],
                "contracts": [],
            }
        )
        sc = sc.model_copy(update={"experts": experts, "contracts": contracts})
        active = np.array([status[c.id] == ContractStatus.ACTIVE for c in contracts], dtype=bool)
        return cls.of(sc, active, key, recent_requests(session, today), scarcity_weight)

    @classmethod
    def of(
        cls,
        sc: Scenario,
        active: np.ndarray,
        key: tuple[int, dt.date],
        seen: Sequence[Request] = (),
        scarcity_weight: float | None = None,
    ) -> Reference:
        """From the copies as one scenario (its requests ignored), and the requests seen lately;
        `scarcity_weight`: the price's weight (None: `scarcity.W_SCARCE`)."""
        roads = Travel(sc)
        ref = cls(
            sc=sc,
            travel=roads,
            ex=ExpertArrays(sc, roads),
            active=active,
            e_pos={e.id: k for k, e in enumerate(sc.experts)},
            c_pos={c.id: k for k, c in enumerate(sc.contracts)},
            key=key,
        )
        ref.demand = Demand(ref, scarcity_weight)
        for r in seen:
            ref.demand.see(r)
        return ref


def recent_requests(session: Session, today: dt.date) -> list[Request]:
    """The sample of what comes (`scarcity`): the latest `SAMPLE` requests submitted in the last
    `WINDOW_DAYS`."""
    since = dt.datetime.combine(today - dt.timedelta(days=WINDOW_DAYS), dt.time(), tzinfo=dt.UTC)
    stmt = (
        select(RequestRow.record)
        .where(col(RequestRow.submitted_at) >= since)
        .order_by(col(RequestRow.submitted_at).desc())
        .limit(SAMPLE)
    )
    return [Request.model_validate(record) for record in session.exec(stmt)]


class Room(GreedyRoom):
    """What is left under every limit, by expert and contract position (the greedy's room)."""

    def __init__(self, e: list[int], c_min: list[int], c_vnd: list[int], c_n: list[int], budget: list[bool]) -> None:
        self.e, self.c_min, self.c_vnd, self.c_n, self.budget = e, c_min, c_vnd, c_n, budget

    def blocker(self, e: int, c: int, m_: int, cost: int) -> str | None:
        """The first limit an option breaks, in the order of the explanations (None: it fits)."""
        for name, broken in zip(
            BLOCKERS,
            (self.e[e] < m_, self.c_min[c] < m_, self.budget[c] and self.c_vnd[c] < cost, self.c_n[c] < 1),
            strict=True,
        ):
            if broken:
                return name
        return None


#: A live proposal as the room counts it: (id, request_id, slot, expert_id, contract_id, minutes,
#: cost_vnd, trainee_id, trainee_minutes), plain driver tuples (a country has 10,000 live
#: proposals; objects would cost 0.1 s).
Live = tuple[str, str, int, str, str, int, int, str | None, int]
_LIVE_SQL = (
    "SELECT id, request_id, slot, expert_id, contract_id, minutes, cost_vnd, trainee_id, trainee_minutes "
    "FROM proposal "
    f"WHERE status IN ({sql_words(LIVE)})"
)  # our own constants, not input


def live_proposals(session: Session) -> list[Live]:
    return list(session.connection().exec_driver_sql(_LIVE_SQL).fetchall())


#: Proposals whose trainee's time is spent or promised: as the ledger keeps an expert's approved
#: and completed work booked, the trainee's time stays taken once the work is done.
TRAINEE_TIME = COVERING
_TRAINEE_SQL = (
    "SELECT trainee_id, SUM(trainee_minutes) FROM proposal WHERE trainee_minutes > 0 AND status IN "
    f"({sql_words(TRAINEE_TIME)}) GROUP BY trainee_id"
)  # our own constants


def trainee_time(session: Session) -> dict[str, int]:
    """Minutes each community member spends as a trainee (`solver.trainee`). No ledger balance
    holds them (no contract pays a trainee): the matcher takes them from the person's time itself."""
    return {tid: int(spent) for tid, spent in session.connection().exec_driver_sql(_TRAINEE_SQL).fetchall() if tid}


def current_room(session: Session, ref: Reference, live: list[Live]) -> Room:
    """The ledger's balances (as far as they have arrived), less every live proposal they do not
    count yet (pending ones, and approvals whose balance is still on its way). Summed in numpy."""
    experts, contracts = ref.sc.experts, ref.sc.contracts
    committed: dict[str, float | None] = dict(
        session.connection().exec_driver_sql("SELECT id, committed_hours FROM expert_copy").fetchall()
    )
    e_room = np.array(
        [
            minutes(x.capacity_hours)
            - minutes(held if (held := committed.get(x.id)) is not None else x.committed_hours)
            for x in experts
        ],
        dtype=np.int64,
    )
    balance = {
        row[0]: row[1:]
        for row in session.connection()
        .exec_driver_sql("SELECT id, hours_used, budget_used_vnd, active_assignments, counted FROM contract_copy")
        .fetchall()
    }
    c_min, c_vnd, c_n, counted = [], [], [], set()
    for k, con in enumerate(contracts):
        hours, money, active, cnt = balance.get(con.id, (None, None, None, None))
        if cnt:
            counted.update(cnt.split(","))
        c_min.append(minutes(con.hours_cap) - minutes(hours if hours is not None else con.hours_used))
        used_vnd = money if money is not None else con.budget_used_vnd
        c_vnd.append((con.budget_cap_vnd - used_vnd) if con.budget_cap_vnd is not None else 0)
        c_n.append(
            (con.max_concurrent - (active if active is not None else con.active_assignments)) if ref.active[k] else 0
        )
    uncounted = [p for p in live if p[0] not in counted]
    e = np.fromiter((ref.e_pos.get(p[3], -1) for p in uncounted), dtype=np.int64, count=len(uncounted))
    c = np.fromiter((ref.c_pos.get(p[4], -1) for p in uncounted), dtype=np.int64, count=len(uncounted))
    mins = np.fromiter((p[5] for p in uncounted), dtype=np.int64, count=len(uncounted))
    cost = np.fromiter((p[6] for p in uncounted), dtype=np.int64, count=len(uncounted))
    ok = (e >= 0) & (c >= 0)
    e, c, mins, cost = e[ok], c[ok], mins[ok], cost[ok]
    ne, nc = len(experts), len(contracts)
    e_room -= np.bincount(e, weights=mins, minlength=ne).astype(np.int64)
    for tid, spent in trainee_time(session).items():
        if tid in ref.e_pos:
            e_room[ref.e_pos[tid]] -= spent
    c_min_a = np.array(c_min, dtype=np.int64) - np.bincount(c, weights=mins, minlength=nc).astype(np.int64)
    c_vnd_a = np.array(c_vnd, dtype=np.int64) - np.bincount(c, weights=cost, minlength=nc).astype(np.int64)
    c_n_a = np.array(c_n, dtype=np.int64) - np.bincount(c, minlength=nc)
    return Room(
        e_room.tolist(),
        c_min_a.tolist(),
        c_vnd_a.tolist(),
        c_n_a.tolist(),
        [x.budget_cap_vnd is not None for x in contracts],
    )


@dataclass
class Decision:
    request: Request
    chosen: list[Option]
    considered: list[Option]  # the best-ranked options of each slot, for the audit trail's input
    code: str = ""  # why nothing fits, when `chosen` is empty
    eligible: dict[int, int] = field(default_factory=dict)  # per slot, how many options it had


def decide(ref: Reference, room: Room, r: Request, *, filled: dict[int, str], banned: set[str]) -> Decision:
    """Each slot still empty takes its best-ranked option that fits (an expert once per request);
    all or nothing. `filled`: the slots that hold a live proposal, with their expert; `banned`: the
    experts who declined or were rejected for this request. Takes the chosen options' room."""
    if r.unit not in ref.ex.unit_pos:
        return Decision(r, [], [], Reason.CONTRACT_SCOPE_OR_DATES)
    taken = set(filled.values())
    excluded = {r.id: [ref.e_pos[x] for x in banned | taken if x in ref.e_pos]}
    rows = _slot_rows(ref.sc, ref.travel, ref.ex, r, 0, excluded)
    by_slot = {int(row[1][0]): row for row in rows}
    chosen: list[Option] = []
    considered: list[Option] = []
    eligible: dict[int, int] = {}
    code = ""
    for k in range(len(r.effective_slots())):
        if k in filled:
            continue
        option, seen, code, eligible[k] = _best(ref, room, r, k, by_slot.get(k), {o.expert for o in chosen} | taken)
        considered += seen
        if option is None:
            break
        chosen.append(option)
        room.take(ref.e_pos[option.expert], ref.c_pos[option.contract], option.minutes, option.cost)
    else:
        return Decision(r, chosen, considered, eligible=eligible)
    for o in chosen:  # all or nothing: a request is covered only when every slot is
        room.take(ref.e_pos[o.expert], ref.c_pos[o.contract], o.minutes, o.cost, sign=-1)
    return Decision(r, [], considered, code)


def _best(
    ref: Reference, room: Room, r: Request, k: int, row: tuple[np.ndarray, ...] | None, busy: set[str]
) -> tuple[Option | None, list[Option], str, int]:
    """A slot's best-ranked option that fits, the best-ranked options weighed (the chosen one among
    them), the reason none fits, and how many options the slot has."""
    if row is not None:
        _, _, es, cs, on, trav, mins, cost, rank = row
        keep = ref.active[cs]
        es, cs, on, trav, mins, cost, rank = (a[keep] for a in (es, cs, on, trav, mins, cost, rank))
    if row is None or es.size == 0:
        code = why_no_option(SimpleNamespace(sc=ref.sc, experts=ref.ex, roads=ref.travel), r)  # type: ignore[arg-type]
        return None, [], Reason.CONTRACT_SCOPE_OR_DATES if row is not None else code, 0
    blocked: Counter[str] = Counter()
    seen: list[Option] = []
    found: Option | None = None
    ranked = score(cost, trav, rank) + price(ref.demand, room, es, cs, mins)
    for i in np.lexsort((cs, es, ranked)).tolist():
        e, c = int(es[i]), int(cs[i])
        o = Option(
            r.id,
            k,
            ref.sc.experts[e].id,
            ref.sc.contracts[c].id,
            "onsite" if on[i] else "remote",
            int(trav[i]),
            int(mins[i]),
            int(cost[i]),
            int(rank[i]),
        )
        if o.expert in busy:
            continue
        if found is None:
            why = room.blocker(e, c, o.minutes, o.cost)
            if why is None:
                found = o
                seen.append(o)
            else:
                blocked[why] += 1
        if found is not o and len(seen) < AUDIT_OPTIONS:
            seen.append(o)
        if found is not None and len(seen) >= AUDIT_OPTIONS:
            break
    if found is not None:
        return found, seen, "", int(es.size)
    return None, seen, blocked.most_common(1)[0][0] if blocked else Reason.EXCLUDED, int(es.size)


def audit_input(ref: Reference, room: Room, d: Decision, today: dt.date, made: Sequence[Assignment] = ()) -> Scenario:
    """What one placement decided from, as a scenario of its own: the request and the options it
    weighed, each expert and contract with exactly the room it had (its usage raised by what
    others hold), and each trainee named in `made` with the time they had. `validate` checks the
    decision against it; the audit trail keeps it by digest."""
    experts: dict[str, Expert] = {}
    contracts: dict[str, Contract] = {}
    for a in made:
        if a.trainee:
            k = ref.e_pos[a.trainee]
            x = ref.sc.experts[k]
            left = (
                room.e[k]
                + sum(b.trainee_minutes for b in made if b.trainee == a.trainee)
                + sum(p.minutes for p in d.chosen if p.expert == a.trainee)
            )
            experts[a.trainee] = x.model_copy(update={"committed_hours": (minutes(x.capacity_hours) - left) / 60})
    for o in d.considered:
        e, c = ref.e_pos[o.expert], ref.c_pos[o.contract]
        x = ref.sc.experts[e]
        left = (
            room.e[e]
            + sum(p.minutes for p in d.chosen if p.expert == o.expert)
            + sum(a.trainee_minutes for a in made if a.trainee == o.expert)
        )
        experts[o.expert] = x.model_copy(update={"committed_hours": (minutes(x.capacity_hours) - left) / 60})
        y = ref.sc.contracts[c]
        mine = [p for p in d.chosen if p.contract == o.contract]
        contracts[o.contract] = y.model_copy(
            update={
                "hours_used": (minutes(y.hours_cap) - room.c_min[c] - sum(p.minutes for p in mine)) / 60,
                "budget_used_vnd": (
                    (y.budget_cap_vnd or 0) - room.c_vnd[c] - sum(p.cost for p in mine)
                    if y.budget_cap_vnd is not None
                    else y.budget_used_vnd
                ),
                "active_assignments": y.max_concurrent - room.c_n[c] - len(mine) if ref.active[c] else y.max_concurrent,
            }
        )
    homes = {d.request.unit, *(x.home_unit for x in experts.values())}
    return Scenario.model_construct(
        horizon=ref.sc.horizon.model_copy(update={"start": today, "end": max(today, d.request.deadline)}),
        units=[u for u in ref.sc.units if u.id in homes],
        travel_minutes=[t for t in ref.sc.travel_minutes if t.from_unit in homes and t.to_unit in homes],
        experts=list(experts.values()),
        contracts=list(contracts.values()),
        requests=[d.request],
        pinned=[],
        excluded=[],
    )


def assignments(d: Decision) -> list[Assignment]:
    counts = d.eligible
    return [
        Assignment(
            request=o.request,
            slot=o.slot,
            expert=o.expert,
            contract=o.contract,
            mode=o.mode,
            travel_minutes=o.travel,
            minutes=o.minutes,
            cost_vnd=o.cost,
            explanation=explanation(o, counts.get(o.slot, 0)),
        )
        for o in d.chosen
    ]


def with_trainees(ref: Reference, room: Room, r: Request, made: list[Assignment], busy: set[str]) -> list[Assignment]:
    """The placed assignments with a trainee beside each expert where one fits (`solver.trainee`:
    the same rules), from the room the experts left; the trainee's minutes taken from their time.
    `busy`: who already works on the request (its experts, trainees, those who declined)."""
    if not r.trainee:
        return made
    busy = busy | {a.expert for a in made}
    out = []
    for a in made:
        slot = r.effective_slots()[a.slot]
        need = minutes(slot.hours)
        free = {e.id: room.e[ref.e_pos[e.id]] for e in ref.sc.experts if e.home_unit == r.unit}
        chosen = trainee.pick(r, slot.skills, need, (e for e in ref.sc.experts if e.id in free), free, busy)
        if chosen is not None:
            room.e[ref.e_pos[chosen.id]] -= need
            busy.add(chosen.id)
            a = a.model_copy(update={"trainee": chosen.id, "trainee_minutes": need})
        out.append(a)
    return out


def waiting(session: Session, batch: int, skip: frozenset[str] = frozenset()) -> list[RequestRow]:
    """The requests waiting for a decision (open: nothing proposed for some slot, and not told
    why), most urgent first; among equals, those never decided before (a new request) ahead of
    those decided once and open again (a re-plan moved their proposal, an expert declined), then
    the oldest; locked in id order, as every writer here does. A re-plan can leave hundreds open
    again at once: a new request waits for none of them (it waited seconds behind them before).
    `skip`: those a plan's write in progress is about to decide (`planner.write`)."""
    decided_before = select(Proposal.id).where(Proposal.request_id == RequestRow.id).exists()
    manual = select(Proposal.request_id).where(
        col(Proposal.status).in_(LIVE),
        col(Proposal.plan_id).in_(select(PlanRun.id).where(PlanRun.status == "manual")),
    )
    # Chosen and ordered by the database: a burst (a load) leaves thousands open, and reading
    # them all each round cost 65 to 165 ms of a round's 250 (5,000 open).
    stmt = (
        select(RequestRow.id)
        .where(RequestRow.status == RequestStatus.OPEN, col(RequestRow.id).not_in(manual))
        .order_by(
            func.coalesce(col(RequestRow.record)["priority"].as_integer(), 1).desc(),
            decided_before,
            col(RequestRow.submitted_at),
            col(RequestRow.id),
        )
        .limit(batch)
    )
    if skip:
        stmt = stmt.where(col(RequestRow.id).not_in(sorted(skip)))
    order = list(session.exec(stmt))
    if not order:
        return []
    locked = {
        r.id: r
        for r in session.exec(
            select(RequestRow).where(col(RequestRow.id).in_(sorted(order))).order_by(RequestRow.id).with_for_update()
        )
    }
    return [locked[rid] for rid in order if rid in locked and locked[rid].status == RequestStatus.OPEN]


@dataclass
class _Round:
    """What one placement transaction decides with: the room left under every limit, and per
    request its slots already held, its trainees and the experts it may not have."""

    room: Room
    mine: dict[str, dict[int, str]]  # request -> slot -> expert, of its live proposals
    learning: dict[str, set[str]]  # request -> trainees of its live proposals
    banned: dict[str, set[str]]  # request -> experts who declined or were rejected


def _round(session: Session, ref: Reference, ids: list[str]) -> _Round:
    live = live_proposals(session)
    done = _Round(current_room(session, ref, live), {}, {}, {})
    for p in live:
        done.mine.setdefault(p[1], {})[p[2]] = p[3]
        if p[7]:
            done.learning.setdefault(p[1], set()).add(p[7])
    for x in session.exec(select(Exclusion).where(col(Exclusion.request_id).in_(ids))):
        done.banned.setdefault(x.request_id, set()).add(x.expert_id)
    return done


def place_open(
    session: Session,
    ref: Reference,
    *,
    today: dt.date,
    cause: m.Message,
    batch: int = BATCH,
    skip: frozenset[str] = frozenset(),
    budget_s: float = ROUND_S,
) -> tuple[int, int]:
    """Decide up to `batch` waiting requests in this transaction, for about `budget_s` (at least
    one): (proposed, unmatched). What is left waits for the next round, a moment later."""
    began = time.monotonic()
    rows = waiting(session, batch, skip)
    if not rows:
        return 0, 0
    if ref.demand is not None:
        for row in rows:
            ref.demand.see(Request.model_validate(row.record))
    at = _round(session, ref, [r.id for r in rows])
    proposed = unmatched = decided = 0
    for row in rows:
        if decided and time.monotonic() - began > budget_s:
            break  # the rest stays open (its lock goes with the commit): the next round takes it
        outcome = _place_one(session, ref, at, row, today=today, cause=cause)
        proposed += outcome == "proposed"
        unmatched += outcome == "unmatched"
        decided += 1
    log.info("placed", proposed=proposed, unmatched=unmatched, requests=decided, waiting=len(rows) - decided)
    return proposed, unmatched


def _place_one(
    session: Session, ref: Reference, at: _Round, row: RequestRow, *, today: dt.date, cause: m.Message
) -> str:
    """Decide one request: proposed, unmatched (with the reason), or left waiting when the
    validator refuses the choice (never expected: it is written apart from the rules used here)."""
    started = time.monotonic()
    r = Request.model_validate(row.record)
    d = decide(ref, at.room, r, filled=at.mine.get(r.id, {}), banned=at.banned.get(r.id, set()))
    if not d.chosen:
        proposals.unmatched(session, row, d.code, reason_text(d.code, "en", r.language), cause)
        return "unmatched"
    busy = {*at.mine.get(r.id, {}).values(), *at.learning.get(r.id, ()), *at.banned.get(r.id, ())}
    made = with_trainees(ref, at.room, r, assignments(d), busy)
    sc = audit_input(ref, at.room, d, today, made)
    errors = validate(sc, Plan(status="feasible", assignments=made))
    if errors:
        log.error("placement_invalid", request_id=r.id, errors=[str(v) for v in errors[:5]])
        _give_back(ref, at.room, d, made)
        return "invalid"
    _propose(session, row, r, sc, made, started, cause)
    return "proposed"


def _give_back(ref: Reference, room: Room, d: Decision, made: list[Assignment]) -> None:
    """The room a choice took, given back (the validator refused it)."""
    for o in d.chosen:
        room.take(ref.e_pos[o.expert], ref.c_pos[o.contract], o.minutes, o.cost, sign=-1)
    for a in made:
        if a.trainee:
            room.e[ref.e_pos[a.trainee]] += a.trainee_minutes


def _propose(
    session: Session,
    row: RequestRow,
    r: Request,
    sc: Scenario,
    made: list[Assignment],
    started: float,
    cause: m.Message,
) -> None:
    """The placement's record for the audit trail (its input kept), its proposals, and the request
    proposed: every empty slot was filled, all or nothing."""
    body = sc.model_dump_json(by_alias=True)
    sha = hashlib.sha256(body.encode()).hexdigest()
    run = PlanRun(
        input_sha256=sha,
        scenario=body,
        status="placed",
        proposed=len(made),
        seconds=round(time.monotonic() - started, 4),
        objective={"covered_weight": 0, "request": r.id},
    )
    session.add(run)
    session.flush()
    names = {e.id: e.name for e in sc.experts}
    for a in made:
        proposals.propose(
            session,
            row,
            r,
            a,
            expert_name=names.get(a.expert, a.expert),
            plan_id=run.id,
            plan_sha=sha,
            cause=cause,
            trainee_name=names.get(a.trainee or "", ""),
        )
    row.status = RequestStatus.PROPOSED
    row.reason_code, row.reason = "", ""
    session.add(row)


def reference_key(session: Session, today: dt.date) -> tuple[int, dt.date]:
    from shared.leader import changes_seen

    return changes_seen(session, REFERENCE), today
