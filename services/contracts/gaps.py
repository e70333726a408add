"""The ledger's part of the shortage report (`contracts.gaps.get`; the matcher answers the rest):
the time from a request's submission to its first approval, and each contract's use in the period.

The requests are those of the matcher's report (`services.matcher.gaps`): submitted in the period
(local days), and those not yet completed or cancelled when the period reaches today. An approval
is the first reservation (`reserve` ledger line) of any of the request's assignments. A contract's
use in the period: its assignments with a ledger line in the period, the hours consumed then, and
its totals as the ledger holds them now. Read-only.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.contracts.db import AssignmentRow, ContractRow, ExpertRow, LedgerLine, RequestCopy
from shared import limits as L
from shared import messages as m
from shared.bus import Rejected
from shared.clock import zone
from shared.statuses import RequestStatus as R


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def gaps(session: Session, q: m.GetGaps, *, today: dt.date, offset_hours: int) -> m.Reply[m.GapsReport]:
    try:
        start, end, since, until = q.window(today, zone(offset_hours))
    except ValueError as err:
        raise Rejected(str(err), "from_date") from None
    in_period = (col(RequestCopy.submitted_at) >= since) & (col(RequestCopy.submitted_at) < until)
    where = or_(in_period, col(RequestCopy.status) == R.OPEN) if end >= today else in_period
    submitted = {r.id: _utc(r.submitted_at) for r in session.exec(select(RequestCopy).where(where))}
    approval = _approval_times(session, submitted)
    report = m.GapsReport(
        source="live", from_date=start, to_date=end, approval=approval, contracts=_contracts(session, since, until)
    )
    return m.Reply.of(report)


def _approval_times(session: Session, submitted: dict[str, dt.datetime]) -> m.ApprovalTimes:
    first: dict[str, dt.datetime] = {}
    ids = list(submitted)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = session.exec(
            select(AssignmentRow.request_id, LedgerLine.at)
            .join(LedgerLine, col(LedgerLine.assignment_id) == AssignmentRow.id)
            .where(col(AssignmentRow.request_id).in_(chunk), LedgerLine.kind == "reserve")
        )
        for rid, at in rows:
            at = _utc(at)
            if rid not in first or at < first[rid]:
                first[rid] = at
    waits = sorted(max(0.0, (at - submitted[rid]).total_seconds() / 3600) for rid, at in first.items())
    if not waits:
        return m.ApprovalTimes()
    return m.ApprovalTimes(
        approved=len(waits),
        mean_hours=round(statistics.fmean(waits), 2),
        median_hours=round(statistics.median(waits), 2),
        p90_hours=round(waits[min(len(waits) - 1, int(0.9 * len(waits)))], 2),
        max_hours=round(waits[-1], 2),
    )


def _contracts(session: Session, since: dt.datetime, until: dt.datetime) -> list[m.UseRow]:
    touched: dict[str, set[str]] = defaultdict(set)
    consumed: dict[str, int] = defaultdict(int)
    for line in session.exec(select(LedgerLine).where(LedgerLine.at >= since, LedgerLine.at < until)):
        touched[line.contract_id].add(line.assignment_id)
        if line.kind == "consume":
            consumed[line.contract_id] += line.minutes
    names = {e.id: e.record.get("name", "") for e in session.exec(select(ExpertRow))}
    rows = []
    for c in session.exec(select(ContractRow)):
        cap = c.cap_minutes / 60
        rows.append(
            m.UseRow(
                id=c.id,
                name=names.get(c.expert_id, ""),
                kind=c.kind,
                assignments=len(touched[c.id]),
                hours=round(consumed[c.id] / 60, 2),
                used_hours=round(c.used_minutes / 60, 2),
                cap_hours=cap,
                used_pct=round(100 * c.used_minutes / c.cap_minutes, 1) if c.cap_minutes else None,
                budget_used_vnd=c.used_vnd,
                budget_cap_vnd=c.budget_cap_vnd,
            )
        )
    rows.sort(key=lambda x: (-(x.used_pct or 0), x.id))
    return rows[: L.GAP_ROWS]
