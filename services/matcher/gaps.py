"""The shortage in the live system (`matcher.gaps.get`): the matcher's requests of a period as
`Demand`s for the report (`solver.shortage`), its proposals as their cover, its copies of the
experts and contracts (with the ledger's balances) as their use, and the value of one more hour
from the LP of what is open now (`solver.value`, on the snapshot the planner would solve).

What counts: every request submitted in the period (the service's local days), and every request
not yet completed or cancelled when the period reaches today. A request is covered once every slot
has an expert (proposed, approved, accepted or completed), uncovered while open or unmatched.
Read-only; the time from request to approval is the contracts service's part (its ledger).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.matcher.db import ContractCopy, ExpertCopy, Proposal, RequestRow, UnitCopy
from services.matcher.planner import snapshot
from services.matcher.solver.shortage import Cover, Demand, Place, bottlenecks, measure, skill_of
from services.matcher.solver.value import HourValues, hour_values
from shared import limits as L
from shared import messages as m
from shared.bus import Rejected
from shared.clock import local_day, zone
from shared.scenario import Scenario
from shared.statuses import COVERING, FINISHED, RequestStatus

R = RequestStatus
#: A request whose need is met (proposed, under way or done); its proposals that meet it: `COVERING`.
COVERED = (R.PROPOSED, R.APPROVED, R.ACCEPTED, R.COMPLETED)


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _status(status: str) -> str:
    if status in COVERED:
        return "covered"
    return "cancelled" if status == R.CANCELLED else "uncovered"


def gaps(session: Session, q: m.GetGaps, *, today: dt.date, offset_hours: int) -> m.Reply[m.GapsReport]:
    try:
        start, end, since, until = q.window(today, zone(offset_hours))
    except ValueError as err:
        raise Rejected(str(err), "from_date") from None
    in_period = (col(RequestRow.submitted_at) >= since) & (col(RequestRow.submitted_at) < until)
    query = select(RequestRow).where(
        or_(in_period, col(RequestRow.status).notin_(FINISHED)) if end >= today else in_period
    )
    rows = list(session.exec(query))
    ids = [r.id for r in rows]
    experts = {e.id: e for e in session.exec(select(ExpertCopy))}
    contracts = {c.id: c for c in session.exec(select(ContractCopy))}
    covers: dict[str, list[Cover]] = defaultdict(list)
    e_use: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    parsed = {r.id: m.Request.model_validate(r.record) for r in rows}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for p in session.exec(
            select(Proposal).where(
                col(Proposal.request_id).in_(chunk),
                col(Proposal.status).in_(COVERING),
            )
        ):
            e, c = experts.get(p.expert_id), contracts.get(p.contract_id)
            covers[p.request_id].append(
                Cover(
                    p.mode,
                    e.record.get("kind", "") if e else "",
                    c.record.get("kind", "") if c else "",
                    p.minutes / 60,
                    p.trainee_id or "",
                    p.trainee_minutes / 60,
                    _slot_skill(parsed[p.request_id], p.slot),
                )
            )
            e_use[p.expert_id][0] += 1
            e_use[p.expert_id][1] += p.minutes / 60
    demands = [
        Demand(
            parsed[r.id],
            f"{local_day(_utc(r.submitted_at), offset_hours):%Y-%m}",
            _status(r.status),
            tuple(covers.get(r.id, ())),
        )
        for r in rows
    ]
    places = {
        u.id: Place(u.record.get("name", ""), u.record.get("province", "")) for u in session.exec(select(UnitCopy))
    }
    fields = measure(demands, places)
    values = _values(session, today) if q.with_values else None
    fields["experts"], fields["contracts"] = _experts(experts, e_use, values), _contracts(contracts, values)
    if values is not None and values[1].status == "solved":
        fields["bottlenecks"], cut = bottlenecks(values[0], values[1])
        fields["truncated"] = bool(fields["truncated"]) or cut
    fields["values"] = (
        "not asked" if values is None else ("lp_duals" if values[1].status == "solved" else values[1].status)
    )
    fields["truncated"] = bool(fields["truncated"]) or len(experts) > L.GAP_ROWS or len(contracts) > L.GAP_ROWS
    report = m.GapsReport.model_validate({"source": "live", "from_date": start, "to_date": end, **fields})
    return m.Reply.of(report)


def _slot_skill(r: m.Request, slot: int) -> tuple[str, int]:
    slots = r.effective_slots()
    return skill_of(slots[slot].skills) if slot < len(slots) else ("none", 0)


def _values(session: Session, today: dt.date) -> tuple[Scenario, HourValues]:
    sc = snapshot(session, today).scenario
    return sc, hour_values(sc)


def _experts(
    experts: dict[str, ExpertCopy], use: dict[str, list[float]], values: tuple[object, HourValues] | None
) -> list[m.UseRow]:
    hour = values[1].expert_hour if values else {}
    rows = []
    for e in experts.values():
        cap = float(e.record.get("capacity_hours", 0))
        used = e.committed_hours if e.committed_hours is not None else float(e.record.get("committed_hours", 0))
        rows.append(
            m.UseRow(
                id=e.id,
                name=e.record.get("name", ""),
                kind=e.record.get("kind", ""),
                assignments=int(use[e.id][0]) if e.id in use else 0,
                hours=round(use[e.id][1], 2) if e.id in use else 0,
                used_hours=round(used, 2),
                cap_hours=cap,
                used_pct=round(100 * used / cap, 1) if cap else None,
                hour_value=_r(hour.get(e.id)),
            )
        )
    rows.sort(key=lambda x: (-(x.hour_value or 0), -(x.used_pct or 0), x.id))
    return rows[: L.GAP_ROWS]


def _contracts(contracts: dict[str, ContractCopy], values: tuple[object, HourValues] | None) -> list[m.UseRow]:
    hour = values[1].contract_hour if values else {}
    rows = []
    for c in contracts.values():
        rec = c.record
        cap = float(rec.get("hours_cap", 0))
        used = c.hours_used if c.hours_used is not None else float(rec.get("hours_used", 0))
        rows.append(
            m.UseRow(
                id=c.id,
                name=rec.get("expert", ""),
                kind=rec.get("kind", ""),
                assignments=c.active_assignments or 0,
                used_hours=round(used, 2),
                cap_hours=cap,
                used_pct=round(100 * used / cap, 1) if cap else None,
                budget_used_vnd=c.budget_used_vnd if c.budget_used_vnd is not None else rec.get("budget_used_vnd"),
                budget_cap_vnd=rec.get("budget_cap_vnd"),
                hour_value=_r(hour.get(c.id)),
            )
        )
    rows.sort(key=lambda x: (-(x.hour_value or 0), -(x.used_pct or 0), x.id))
    return rows[: L.GAP_ROWS]


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
