"""The contracts service's gauges for operators (its database, read at each scrape): assignments
by status (the approvals), contracts by status, and active contracts near a cap (hours or budget
used at `NEAR_CAP` or more of it), which will soon refuse work."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.contracts.db import AssignmentRow, ContractRow
from shared.assignment import Status
from shared.metrics import PREFIX
from shared.statuses import ContractStatus as C

NEAR_CAP = 0.9


def gauges(session: Session) -> Iterator[Metric]:
    held = dict(session.exec(select(AssignmentRow.status, func.count()).group_by(AssignmentRow.status)).all())
    assignments = GaugeMetricFamily(f"{PREFIX}_assignments", "Assignments by status", labels=["status"])
    for status in sorted({*(str(x) for x in Status), *held}):
        assignments.add_metric([status], held.get(status, 0))
    yield assignments
    by_status = dict(session.exec(select(ContractRow.status, func.count()).group_by(ContractRow.status)).all())
    contracts = GaugeMetricFamily(f"{PREFIX}_contracts", "Contracts by status", labels=["status"])
    for status in sorted({C.ACTIVE, *by_status}):
        contracts.add_metric([status], by_status.get(status, 0))
    yield contracts
    c = ContractRow
    used_minutes = c.used_minutes_before + c.reserved_minutes + c.consumed_minutes
    used_vnd = c.budget_used_before_vnd + c.reserved_vnd + c.consumed_vnd
    active = c.status == C.ACTIVE
    hours = session.exec(
        select(func.count()).where(active, c.cap_minutes > 0, used_minutes >= NEAR_CAP * c.cap_minutes)
    ).one()
    budget = session.exec(
        select(func.count()).where(
            active,
            col(c.budget_cap_vnd) > 0,
            used_vnd >= NEAR_CAP * col(c.budget_cap_vnd),
        )
    ).one()
    near = GaugeMetricFamily(
        f"{PREFIX}_contracts_near_cap", f"Active contracts with {NEAR_CAP:.0%} or more of a cap used", labels=["cap"]
    )
    near.add_metric(["hours"], hours)
    near.add_metric(["budget"], budget)
    yield near
