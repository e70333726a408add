"""The matcher's gauges for operators (read from its database at each scrape, `shared.metrics`):
requests by status, proposals waiting for staff and the oldest one's age, and the last plan's
quality (covered weight against the proven bound), time and age. The re-plan's duration as a
histogram is observed by the `Replanner` as it runs (`replan_histogram`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.matcher.db import PlanRun, Proposal, RequestRow
from shared.metrics import PREFIX, age_seconds
from shared.statuses import AssignmentStatus
from shared.statuses import RequestStatus as R

#: The statuses a request is counted by: every one is reported, at 0 when none has it.
REQUEST_STATUSES = (R.OPEN, R.UNMATCHED, R.PROPOSED, R.CANCELLED, R.COMPLETED)

NOT_PLANS = ("placed", "manual")


def replan_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        f"{PREFIX}_replan_duration_seconds",
        "Time of a whole re-plan (solve and write)",
        registry=registry,
        buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
    )


def gauges(session: Session) -> Iterator[Metric]:
    by_status = dict(session.exec(select(RequestRow.status, func.count()).group_by(RequestRow.status)).all())
    requests = GaugeMetricFamily(f"{PREFIX}_requests", "Requests by status", labels=["status"])
    for status in sorted({*REQUEST_STATUSES, *by_status}):
        requests.add_metric([status], by_status.get(status, 0))
    yield requests
    waiting, oldest = session.exec(
        select(func.count(), func.min(Proposal.created_at)).where(Proposal.status == AssignmentStatus.PROPOSED)
    ).one()
    yield GaugeMetricFamily(f"{PREFIX}_proposals_waiting", "Proposals waiting for staff's decision", value=waiting)
    yield GaugeMetricFamily(
        f"{PREFIX}_proposal_oldest_waiting_seconds",
        "How long the oldest proposal has waited for staff",
        value=age_seconds(oldest),
    )
    yield from _last_plan(session)


def _last_plan(session: Session) -> Iterator[Metric]:
    # The last re-plan by the engine: a placement's or a manual assignment's run is no plan of the whole.
    # Its columns only: the row also holds the whole scenario it planned from (megabytes on a country).
    last = session.exec(
        select(PlanRun.status, PlanRun.objective, PlanRun.seconds, PlanRun.created_at)
        .where(col(PlanRun.status).not_in(NOT_PLANS))
        .order_by(col(PlanRun.id).desc())
        .limit(1)
    ).first()
    status, objective, seconds, created_at = last if last else ("", {}, 0.0, None)
    objective = objective or {}
    covered, bound = objective.get("covered_weight", 0), objective.get("upper_bound", 0)
    yield GaugeMetricFamily(f"{PREFIX}_plan_covered_weight", "Weighted demand the last plan covers", value=covered)
    yield GaugeMetricFamily(
        f"{PREFIX}_plan_upper_bound", "The proven bound on the covered weight (last plan)", value=bound
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_plan_quality_ratio",
        "Covered weight over the proven bound (1 = optimal)",
        value=covered / bound if bound else 1.0,
    )
    yield GaugeMetricFamily(f"{PREFIX}_plan_seconds", "How long the last plan took to solve", value=seconds)
    yield GaugeMetricFamily(
        f"{PREFIX}_plan_age_seconds",
        "Time since the last plan was made",
        value=age_seconds(created_at) if created_at else 0,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_plan_optimal",
        "1 when the last plan is proven optimal",
        value=1 if status == "optimal" else 0,
    )
