"""Reference data: units, travel times, experts and contracts, registered (a load or a sheet
import) in one transaction, and read back for export.

A whole registration is refused at the first broken rule, with the field at fault
(`contracts[3].hourly_rate_vnd`), and nothing of it is kept. The two kinds of contract differ:
a project contract pays an expert by the hour (a rate above zero), a sharing agreement lends a
unit's staff member (a shared or community expert) for no fee or an internal allowance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from services.contracts import assignments as asg
from services.contracts import audit, lifecycle
from services.contracts.db import ContractRow, ExpertRow, TravelRow, UnitRow
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import add_event
from shared.limits import REFERENCE_CHUNK, REPLY_ROWS, TRAVEL_CHUNK
from shared.scenario import minutes
from shared.security.credentials import Actor
from shared.statuses import ContractStatus as C

LENT_KINDS = ("shared", "community")


def register_reference(
    session: Session, cmd: m.RegisterReference, actor: Actor, *, today: dt.date
) -> m.Reply[m.Registered]:
    # The lock order of `assignments`: contracts, then experts (the contracts' too: their booking
    # revisions move), before the audit head.
    asg.lock_in_order(
        session,
        contracts=[c.id for c in cmd.contracts],
        experts=[e.id for e in cmd.experts] + [c.expert for c in cmd.contracts],
    )
    _check_references(session, cmd)
    units = _rows(session, UnitRow, {u.id for u in cmd.units})
    for u in cmd.units:
        row = units.get(u.id) or UnitRow(id=u.id, record={})
        row.record = u.model_dump(mode="json", by_alias=True)
        units[u.id] = row
        session.add(row)
    for t in cmd.travel_minutes:
        session.merge(TravelRow(from_unit=t.from_unit, to_unit=t.to_unit, minutes=t.minutes))
    experts = _rows(session, ExpertRow, {e.id for e in cmd.experts})
    for e in cmd.experts:
        experts[e.id] = _upsert_expert(session, e, experts.get(e.id))
    session.flush()
    known = set(session.exec(select(ContractRow.id).where(col(ContractRow.id).in_([c.id for c in cmd.contracts]))))
    rows = [_upsert_contract(session, cmd, actor, i, today, known) for i in range(len(cmd.contracts))]
    registered = [
        cmd.caused(m.ContractRegistered, contract=c, status=row.status, revision=row.revision)
        for c, row in zip(cmd.contracts, rows, strict=True)
    ]
    session.flush()
    balances = lifecycle.next_balances(session, cmd, rows)
    for event in announce(cmd, registered, balances):
        add_event(session, s.REFERENCE_REGISTERED, event)
    audit.record(
        session,
        actor=actor,
        action="register",
        subject="reference",
        after={
            "units": [u.id for u in cmd.units],
            "experts": [e.id for e in cmd.experts],
            "contracts": [c.model_dump(mode="json") for c in cmd.contracts],
            "contract_status": cmd.contract_status,
        },
        correlation_id=cmd.correlation_id,
    )
    return m.Reply.of(
        m.Registered(
            units=len(cmd.units),
            experts=len(cmd.experts),
            contracts=len(cmd.contracts),
            travel_minutes=len(cmd.travel_minutes),
        )
    )


def announce(
    cmd: m.RegisterReference, registered: list[m.ContractRegistered], balances: list[m.BalanceChanged]
) -> list[m.ReferenceRegistered]:
    """The registration as events of a chunk each (`ReferenceRegistered`), in the order a consumer
    needs them: units and travel before the experts living there, experts before their contracts,
    a contract's balance in the same event as the contract. One event per chunk, not one per item:
    a country (3,321 units, 2,000 experts and contracts) is 37 events to copy, not 9,321."""
    n, travel = REFERENCE_CHUNK, TRAVEL_CHUNK
    parts: list[dict[str, Any]] = [{"units": cmd.units[i : i + n]} for i in range(0, len(cmd.units), n)]
    parts += [{"travel_minutes": cmd.travel_minutes[i : i + travel]} for i in range(0, len(cmd.travel_minutes), travel)]
    parts += [{"experts": cmd.experts[i : i + n]} for i in range(0, len(cmd.experts), n)]
    parts += [
        {"contracts": registered[i : i + n], "balances": balances[i : i + n]} for i in range(0, len(registered), n)
    ]
    return [cmd.caused(m.ReferenceRegistered, **part) for part in parts]


def _check_references(session: Session, cmd: m.RegisterReference) -> None:
    """Every unit and expert referred to is in the registration or already registered: one read
    per kind for the whole registration, not one per reference."""
    experts = {e.id: e.kind for e in cmd.experts}
    wanted = {t.from_unit for t in cmd.travel_minutes} | {t.to_unit for t in cmd.travel_minutes}
    wanted |= {e.home_unit for e in cmd.experts} | {u for c in cmd.contracts for u in c.scope_units or []}
    units = {u.id for u in cmd.units} | _existing(session, UnitRow, wanted)
    known_experts = set(experts) | _existing(session, ExpertRow, {c.expert for c in cmd.contracts})

    for i, t in enumerate(cmd.travel_minutes):
        for field, uid in (("from", t.from_unit), ("to", t.to_unit)):
            if uid not in units:
                raise Rejected(f"unknown unit {uid!r}", f"travel_minutes[{i}].{field}")
    for i, e in enumerate(cmd.experts):
        if e.home_unit not in units:
            raise Rejected(f"unknown unit {e.home_unit!r}", f"experts[{i}].home_unit")
        _check_availability(session, i, e)
    for i, c in enumerate(cmd.contracts):
        if c.expert not in known_experts:
            raise Rejected(f"unknown expert {c.expert!r}", f"contracts[{i}].expert")
        for uid in c.scope_units or []:
            if uid not in units:
                raise Rejected(f"unknown unit {uid!r}", f"contracts[{i}].scope_units")
        _check_kind(session, i, c, experts)


def _existing(session: Session, model: Any, ids: set[str]) -> set[str]:
    return set(session.exec(select(model.id).where(model.id.in_(sorted(ids))))) if ids else set()


def _rows(session: Session, model: Any, ids: set[str]) -> dict[str, Any]:
    """The rows there are of these ids, read once (the registration's locks are already held)."""
    return {r.id: r for r in session.exec(select(model).where(model.id.in_(sorted(ids))))} if ids else {}


def _check_availability(session: Session, i: int, e: m.Expert) -> None:
    """Availability lowered below the work already approved (and what was committed before) is
    refused with the numbers: that work stays, so the plan would have no room to keep it."""
    row = session.get(ExpertRow, e.id)
    if row is None:
        return
    new = minutes(e.capacity_hours)
    held = minutes(e.committed_hours) + row.booked_minutes
    if new < row.capacity_minutes and new < held:
        raise Rejected(
            f"expert {e.id}: availability {new / 60:g} h is below the {held / 60:g} h already approved or "
            f"committed ({row.booked_minutes / 60:g} h approved here, {e.committed_hours:g} h committed before); "
            f"at least {held / 60:g} h is needed",
            f"experts[{i}].capacity_hours",
        )


def _check_kind(session: Session, i: int, c: m.Contract, new_experts: Mapping[str, str]) -> None:
    if c.kind == "project" and c.hourly_rate_vnd <= 0:
        raise Rejected(
            "a project contract pays by the hour: the rate must be above 0 (a sharing agreement may have none)",
            f"contracts[{i}].hourly_rate_vnd",
        )
    if c.kind == "sharing":
        row = session.get(ExpertRow, c.expert)
        kind = new_experts.get(c.expert) or (row.record.get("kind") if row else None)
        if kind not in LENT_KINDS:
            raise Rejected(
                f"a sharing agreement lends a unit's staff member; expert {c.expert} "
                f"is a {kind} expert (use a project contract)",
                f"contracts[{i}].kind",
            )


def _upsert_expert(session: Session, e: m.Expert, row: ExpertRow | None) -> ExpertRow:
    row = row or ExpertRow(id=e.id, record={}, capacity_minutes=0, committed_minutes=0)
    row.record = e.model_dump(mode="json")
    row.capacity_minutes = minutes(e.capacity_hours)
    row.committed_minutes = minutes(e.committed_hours)
    session.add(row)
    return row


def _upsert_contract(
    session: Session, cmd: m.RegisterReference, actor: Actor, i: int, today: dt.date, known: set[str]
) -> ContractRow:
    c = cmd.contracts[i]
    wanted = cmd.contract_status.get(c.id)
    row = session.get(ContractRow, c.id) if c.id in known else None  # locked and read: no query
    if row is None:
        if wanted not in (None, C.DRAFT, C.ACTIVE):
            raise Rejected(f"a new contract starts as draft or active, not {wanted}", f"contracts[{i}].status")
        row = ContractRow(
            id=c.id,
            expert_id=c.expert,
            record={},
            status=wanted or C.ACTIVE,
            starts_on=c.start,
            ends_on=c.end,
            cap_minutes=0,
            used_minutes_before=0,
            max_concurrent=0,
        )
    elif wanted is not None and wanted != row.status:
        raise Rejected(
            f"contract {c.id} is {row.status}; change its status with `expertshare contract`, "
            "not by registering it again",
            f"contracts[{i}].status",
        )
    row.expert_id, row.kind, row.record = c.expert, c.kind, c.model_dump(mode="json")
    row.starts_on, row.ends_on, row.hourly_rate_vnd = c.start, c.end, c.hourly_rate_vnd
    row.cap_minutes, row.used_minutes_before = minutes(c.hours_cap), minutes(c.hours_used)
    row.budget_cap_vnd, row.budget_used_before_vnd = c.budget_cap_vnd, c.budget_used_vnd
    row.max_concurrent, row.active_before = c.max_concurrent, c.active_assignments
    row.revision += 1
    session.add(row)
    known.add(c.id)  # the same id again in this registration finds this row
    _dates_moved(session, cmd, actor, row, today)
    return row


def _dates_moved(session: Session, cmd: m.RegisterReference, actor: Actor, row: ContractRow, today: dt.date) -> None:
    """A contract registered past its last day is expired; an expired one extended is active again."""
    if row.ends_on < today and row.status not in lifecycle.TERMINAL:
        session.flush()
        lifecycle.set_status(session, row, C.EXPIRED, by=actor, reason=f"its last day was {row.ends_on}", cause=cmd)
    elif row.ends_on >= today and row.status == C.EXPIRED:
        session.flush()
        lifecycle.set_status(session, row, C.ACTIVE, by=actor, reason=f"extended to {row.ends_on}", cause=cmd)


# What an expert may change of their own record (the portal's availability page); the rest is staff's.
AVAILABILITY = ("capacity_hours", "max_travel_minutes", "remote", "onsite")


def own_availability(session: Session, cmd: m.RegisterReference, actor: Actor) -> None:
    """Ownership: staff register anything; an expert only their own record's availability."""
    if actor.is_staff():
        return
    mine = actor.party_id("expert")
    others = cmd.units or cmd.travel_minutes or cmd.contracts or cmd.contract_status
    if mine is None or others or [e.id for e in cmd.experts] != [mine]:
        raise Rejected(
            f"you act as {actor.party}; an expert may change only their own availability",
            "experts",
            code=m.Refusal.NOT_YOURS,
        )
    row = session.get(ExpertRow, mine)
    new = cmd.experts[0].model_dump(mode="json")
    changed = {k for k in {*new, *(row.record if row else {})} if (row.record if row else {}).get(k) != new.get(k)}
    if row is None or changed - set(AVAILABILITY):
        raise Rejected(f"an expert may change only {', '.join(AVAILABILITY)} of their record", "experts")


def reference(session: Session, q: m.GetReference) -> m.Reply[m.ReferenceData]:
    """Everything registered, in the registration format, with each contract's status."""

    def rows(table: Any) -> list[Any]:
        stmt = select(table).order_by(table.id)
        return list(session.exec(stmt if q.ids is None else stmt.where(table.id.in_(q.ids))))

    units, experts, contracts = rows(UnitRow), rows(ExpertRow), rows(ContractRow)
    n = REPLY_ROWS
    return m.Reply.of(
        m.ReferenceData(
            units=[m.Unit.model_validate(u.record) for u in units[:n]],
            experts=[m.Expert.model_validate(e.record) for e in experts[:n]],
            contracts=[m.RegisteredContract.model_validate({**c.record, "status": c.status}) for c in contracts[:n]],
            truncated=max(len(units), len(experts), len(contracts)) > n,
        )
    )
