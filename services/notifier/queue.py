"""The delivery queue: claiming due sends, recording their outcome, listing and retrying failures.

A send is claimed with a lease (a conditional UPDATE, so two workers never take the same row); if
the process dies mid-send, the lease runs out and the send is tried again, under the same key that
receivers use to drop a repeat. Nothing here talks to the network; `worker.py` does.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from services.notifier.channels import Outgoing
from services.notifier.db import Delivery, Preference
from services.notifier.sealed import Sealer, webhook_secret
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected
from shared.db import add_event, reader, transaction, utcnow
from shared.statuses import DeliveryStatus as D


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    out: Outgoing


@dataclass(frozen=True)
class Backoff:
    base_s: float
    max_s: float
    max_attempts: int

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential with "equal jitter": half fixed, half random, so retries of many sends that
        failed together (one server down) do not all come back at the same instant."""
        step = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        return step / 2 + rng.uniform(0, step / 2)


def _due(now: dt.datetime, limit: int) -> Any:
    return (
        select(Delivery)
        .where(
            col(Delivery.status) == D.PENDING,
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
        )
        .order_by(col(Delivery.next_attempt_at))
        .limit(limit)
    )


def claim(engine: Engine, limit: int, lease_s: float, sealer: Sealer) -> list[Claimed]:
    """Up to `limit` due sends, each leased to this worker for `lease_s`. Looked for first in a
    read: the worker is woken after every event the notifier handles, and most tell nobody on an
    external channel; a write transaction to find nothing took SQLite's one lock from the next
    event's handler each time."""
    now = utcnow()
    with Session(reader(engine)) as look:
        if look.exec(_due(now, 1)).first() is None:
            return []
    with transaction(engine) as session:
        due = session.exec(_due(now, limit)).all()
        claimed = []
        for d in due:
            taken = session.exec(
                update(Delivery)
                .where(
                    col(Delivery.id) == d.id,
                    col(Delivery.status) == D.PENDING,
                    or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
                )
                .values(lease_until=now + dt.timedelta(seconds=lease_s))
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:
                claimed.append(Claimed(d.id or 0, d.channel, _outgoing(session, d, sealer)))
        return claimed


def _outgoing(session: Session, d: Delivery, sealer: Sealer) -> Outgoing:
    # The address is read now, not when queued: a retry after fixing a wrong email uses the new one.
    pref = session.get(Preference, d.party)
    return Outgoing(
        key=d.key,
        kind=d.kind,
        subject=d.subject,
        text=d.text,
        html=d.html,
        payload=d.payload.encode(),
        email=pref.email if pref else None,
        webhook_url=pref.webhook_url if pref else None,
        webhook_secret=webhook_secret(pref, sealer),
    )


def record_sent(engine: Engine, delivery_id: int) -> None:
    with transaction(engine) as session:
        d = session.get(Delivery, delivery_id)
        if d is None or d.status != D.PENDING:
            return
        d.status, d.attempts, d.lease_until, d.finished_at = D.SENT, d.attempts + 1, None, utcnow()
        session.add(d)
        add_event(
            session,
            s.NOTIFICATION_DELIVERED,
            m.NotificationDelivered(
                notification_id=str(d.notification_id or f"digest:{d.key}"),
                party=d.party,
                channel=d.channel,
                kind=d.kind,
                source_event_id=d.source_event_id,
            ),
        )


def record_failure(
    engine: Engine,
    delivery_id: int,
    reason: str,
    *,
    permanent: bool,
    backoff: Backoff,
    rng: random.Random,
) -> str:
    """Schedule the next try, or give up: status failed and a dead-letter event with the reason."""
    with transaction(engine) as session:
        d = session.get(Delivery, delivery_id)
        if d is None or d.status != D.PENDING:
            return "gone"
        d.attempts += 1
        d.last_error, d.lease_until = reason[:2000], None
        if permanent or d.attempts >= backoff.max_attempts:
            d.status, d.finished_at = D.FAILED, utcnow()
            failed = m.NotificationFailed(
                delivery_id=str(d.id),
                notification_id=str(d.notification_id) if d.notification_id else None,
                party=d.party,
                channel=d.channel,
                kind=d.kind,
                source_event_id=d.source_event_id,
                attempts=d.attempts,
                reason=d.last_error,
            )
            add_event(session, s.NOTIFICATION_FAILED, failed)
            add_event(
                session,
                s.deadletter("notifier"),
                DeliveryDeadLetter(
                    event_id=f"dl-{failed.event_id}",
                    service="notifier",
                    subject=f"notifier.delivery.{d.channel}",
                    reason=f"failed after {d.attempts} attempts: {d.last_error}",
                    payload=failed.model_dump_json(),
                    deliveries=d.attempts,
                ),
            )
        else:
            d.next_attempt_at = utcnow() + dt.timedelta(seconds=backoff.delay(d.attempts, rng))
        session.add(d)
        return d.status


class DeliveryDeadLetter(m.DeadLetter):
    """The project's dead letter, with the id the outbox publishes it under (for deduplication)."""

    event_id: str


# ------------------------------------------------------------------ staff: what did not arrive
def list_deliveries(session: Session, q: m.GetDeliveries) -> m.Reply[m.DeliveriesView]:
    stmt = select(Delivery)
    if q.status:
        stmt = stmt.where(Delivery.status == q.status)
    if q.party:
        stmt = stmt.where(Delivery.party == q.party)
    rows = session.exec(stmt.order_by(col(Delivery.id).desc()).limit(q.limit)).all()
    return m.Reply.of(
        m.DeliveriesView(
            deliveries=[
                m.DeliveryView(
                    id=str(d.id),
                    party=d.party,
                    channel=d.channel,
                    kind=d.kind,
                    subject=d.subject,
                    status=d.status,
                    attempts=d.attempts,
                    last_error=d.last_error,
                    created_at=d.created_at.isoformat(),
                    finished_at=d.finished_at.isoformat() if d.finished_at else None,
                )
                for d in rows
            ]
        )
    )


def retry(session: Session, cmd: m.RetryDeliveries) -> m.Reply[m.RetriedDeliveries]:
    if not cmd.delivery_ids and not cmd.all:
        raise Rejected("name the deliveries to retry, or ask for all failed ones", "delivery_ids")
    stmt = select(Delivery).where(Delivery.status == D.FAILED)
    if not cmd.all:
        ids = [int(i) for i in cmd.delivery_ids]
        rows = {d.id: d for d in session.exec(select(Delivery).where(col(Delivery.id).in_(ids)))}
        for i in ids:
            if i not in rows:
                raise Rejected(f"unknown delivery {i}", "delivery_ids")
            if rows[i].status != D.FAILED:
                raise Rejected(f"delivery {i} is {rows[i].status}, not failed", "delivery_ids")
        stmt = stmt.where(col(Delivery.id).in_(ids))
    again: list[str] = []
    for d in session.exec(stmt):
        d.status, d.attempts, d.next_attempt_at, d.lease_until, d.finished_at = (
            D.PENDING,
            0,
            utcnow(),
            None,
            None,
        )
        session.add(d)
        again.append(str(d.id))
    return m.Reply.of(m.RetriedDeliveries(retried=again))
