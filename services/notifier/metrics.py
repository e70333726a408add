"""The notifier's figures for operators (its database, read at each scrape): notifications sent
and failed by channel (the inbox is a channel that cannot fail), and sends still waiting."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlmodel import Session, select

from services.notifier.db import Delivery, Notification
from shared.metrics import PREFIX
from shared.statuses import DeliveryStatus as D


def gauges(session: Session) -> Iterator[Metric]:
    rows = session.exec(
        select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)
    ).all()
    counts = {(channel, status): n for channel, status, n in rows}
    channels = sorted({"inbox", "email", "webhook", *(channel for channel, _ in counts)})
    counts[("inbox", D.SENT)] = session.exec(select(func.count()).select_from(Notification)).one()
    sent = CounterMetricFamily(f"{PREFIX}_notifications_sent", "Notifications sent, by channel", labels=["channel"])
    failed = CounterMetricFamily(
        f"{PREFIX}_notifications_failed", "Notifications given up on, by channel", labels=["channel"]
    )
    pending = GaugeMetricFamily(
        f"{PREFIX}_notifications_pending", "Sends waiting or being retried, by channel", labels=["channel"]
    )
    for channel in channels:
        sent.add_metric([channel], counts.get((channel, D.SENT), 0))
        failed.add_metric([channel], counts.get((channel, D.FAILED), 0))
        pending.add_metric([channel], counts.get((channel, D.PENDING), 0))
    yield sent
    yield failed
    yield pending
