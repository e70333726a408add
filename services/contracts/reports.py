"""The reports the province needs, as flat rows (one per contract, unit or expert) ready for JSON
or CSV: what each contract has left and for how long, what each unit asked for and received, how
loaded each expert is. Money in integer dong, time in hours. Read-only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlmodel import Session, select

from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, RequestCopy, UnitRow
from shared import limits as L
from shared import messages as m
from shared.statuses import GRANTED
from shared.statuses import AssignmentStatus as A

STATES = (A.PROPOSED, A.APPROVED, A.ACCEPTED, A.COMPLETED, A.REJECTED, A.DECLINED, A.CANCELLED)


def report(session: Session, q: m.GetReport, *, today: dt.date) -> m.Reply[m.Report]:
    build = {"contracts": contracts, "units": units, "experts": experts}[q.kind]
    rows = build(session, q.today or today)
    return m.Reply.of(
        m.Report(
            kind=q.kind,
            today=q.today or today,
            rows=rows[: L.REPLY_ROWS],  # type: ignore[arg-type]
            truncated=len(rows) > L.REPLY_ROWS,
        )
    )


def contracts(session: Session, today: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "contract": c.id,
            "kind": c.kind,
            "expert": c.expert_id,
            "status": c.status,
            "start": str(c.starts_on),
            "end": str(c.ends_on),
            "days_to_expiry": (c.ends_on - today).days,
            "hourly_rate_vnd": c.hourly_rate_vnd,
            "hours_cap": c.cap_minutes / 60,
            "hours_used": (c.used_minutes_before + c.consumed_minutes) / 60,
            "hours_reserved": c.reserved_minutes / 60,
            "hours_left": (c.cap_minutes - c.used_minutes) / 60,
            "budget_cap_vnd": c.budget_cap_vnd,
            "budget_used_vnd": c.budget_used_before_vnd + c.consumed_vnd,
            "budget_reserved_vnd": c.reserved_vnd,
            "budget_left_vnd": None if c.budget_cap_vnd is None else c.budget_cap_vnd - c.used_vnd,
            "active_assignments": c.active_before + c.active_count,
            "max_concurrent": c.max_concurrent,
        }
        for c in session.exec(select(ContractRow).order_by(ContractRow.id))
    ]


def units(session: Session, today: dt.date) -> list[dict[str, Any]]:
    kinds = {c.id: c.kind for c in session.exec(select(ContractRow))}
    asked: dict[str, set[str]] = defaultdict(set)
    for r in session.exec(select(RequestCopy)):
        asked[r.unit_id].add(r.id)
    covered: dict[str, set[str]] = defaultdict(set)
    minutes: Counter[str] = Counter()
    money: dict[str, Counter[str]] = defaultdict(Counter)
    for a in session.exec(select(AssignmentRow)):
        asked[a.unit_id].add(a.request_id)
        if a.status in GRANTED:
            covered[a.unit_id].add(a.request_id)
        minutes[a.unit_id] += a.logged_minutes
        money[a.unit_id][kinds.get(a.contract_id, "project")] += a.consumed_vnd
    names = {u.id: u.record.get("name", "") for u in session.exec(select(UnitRow))}
    return [
        {
            "unit": uid,
            "name": names.get(uid, ""),
            "requests": len(asked[uid]),
            "covered": len(covered[uid]),
            "hours_received": minutes[uid] / 60,
            "cost_vnd": money[uid]["project"],
            "allowance_vnd": money[uid]["sharing"],
        }
        for uid in sorted(set(names) | set(asked))
    ]


def experts(session: Session, today: dt.date) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    logged: Counter[str] = Counter()
    for a in session.exec(select(AssignmentRow)):
        counts[a.expert_id][a.status] += 1
        logged[a.expert_id] += a.logged_minutes
    rows = []
    for e in session.exec(select(ExpertRow).order_by(ExpertRow.id)):
        load = e.committed_minutes + e.booked_minutes
        rows.append(
            {
                "expert": e.id,
                "name": e.record.get("name", ""),
                "kind": e.record.get("kind", ""),
                "home_unit": e.record.get("home_unit", ""),
                "capacity_hours": e.capacity_minutes / 60,
                "load_hours": load / 60,
                "hours_logged": logged[e.id] / 60,
                "load_pct": round(100 * load / e.capacity_minutes, 1) if e.capacity_minutes else None,
                **{f"assignments_{state}": counts[e.id][state] for state in STATES},
            }
        )
    return rows
