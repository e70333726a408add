"""The notifier's tables: the party directory and preferences, the inbox, the delivery queue of
the external channels, digests, and what the periodic checks watch (unanswered tasks, contracts).

One notification per party per event per kind and one delivery per notification per channel are
enforced by the database, so a repeated event or a crash mid-way never doubles anything.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, DateTime, Engine, MetaData, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.notifier.migrate import upgrade
from shared.db import service_metadata, table_of, tz_column, utcnow
from shared.statuses import ContractStatus, DeliveryStatus


def _created() -> dt.datetime:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Party(SQLModel, table=True):
    """Names and languages learnt from the contracts service's events."""

    __tablename__ = "party"
    id: str = Field(primary_key=True, max_length=80, description="expert:e1, unit:w2269, staff:...")
    name: str = Field(max_length=200)
    language: str = Field(default="vi", max_length=5)


class Preference(SQLModel, table=True):
    """What a party asked for; a field left None falls back to the directory or the default."""

    __tablename__ = "preference"
    party: str = Field(primary_key=True, max_length=80)
    language: str | None = Field(default=None, max_length=5)
    channels: str = Field(default="", max_length=100, description="external channels, comma separated")
    email: str | None = Field(default=None, max_length=254)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(
        default=None, max_length=200, description="in clear: only before sealing (sealed.py)"
    )
    webhook_secret_sealed: str | None = Field(default=None, max_length=500)
    digest: bool = False
    updated_at: dt.datetime = _created()


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("source_event_id", "party", "kind", name="one_per_party_event"),)
    id: int | None = Field(default=None, primary_key=True)
    party: str = Field(index=True, max_length=80)
    kind: str = Field(max_length=40)
    language: str = Field(max_length=5)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    source_event_id: str = Field(max_length=64)
    read: bool = False
    created_at: dt.datetime = _created()


class Delivery(SQLModel, table=True):
    """One send on an external channel: the queue the delivery worker works, outside any
    consumer's transaction. `key` makes it unique per notification (or digest) and channel."""

    __tablename__ = "delivery"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    party: str = Field(index=True, max_length=80)
    channel: str = Field(max_length=20)
    kind: str = Field(max_length=40)
    notification_id: int | None = None
    source_event_id: str = Field(max_length=64)
    subject: str = Field(max_length=300)
    text: str = Field(sa_column=Column(Text, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False), description="the webhook's JSON body")
    status: str = Field(default=DeliveryStatus.PENDING, index=True, max_length=10, description="pending, sent, failed")
    attempts: int = 0
    next_attempt_at: dt.datetime = _created()
    lease_until: dt.datetime | None = tz_column(nullable=True)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: dt.datetime = _created()
    finished_at: dt.datetime | None = tz_column(nullable=True)


class DigestItem(SQLModel, table=True):
    """A notification held for its party's next digest instead of being sent at once."""

    __tablename__ = "digest_item"
    notification_id: int = Field(primary_key=True)
    party: str = Field(index=True, max_length=80)
    digest_id: int | None = Field(default=None, index=True)


class Digest(SQLModel, table=True):
    __tablename__ = "digest"
    __table_args__ = (UniqueConstraint("party", "period", name="one_digest_per_period"),)
    id: int | None = Field(default=None, primary_key=True)
    party: str = Field(max_length=80)
    period: int = Field(description="which digest period (since the epoch) this one closed")
    created_at: dt.datetime = _created()


class LowBalanceAlert(SQLModel, table=True):
    """A contract already reported as running low (once per crossing, not on every change)."""

    __tablename__ = "low_balance_alert"
    contract_id: str = Field(primary_key=True, max_length=64)
    low: bool = False


class ContractWatch(SQLModel, table=True):
    """When each contract ends, its lifecycle status, and for which end date staff were warned."""

    __tablename__ = "contract_watch"
    contract_id: str = Field(primary_key=True, max_length=64)
    expert_id: str = Field(max_length=64)
    end: dt.date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(default=ContractStatus.ACTIVE, max_length=12)
    revision: int = Field(default=0, description="the contracts service's; older ones are ignored")
    warned_end: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class AnswerWatch(SQLModel, table=True):
    """An approved task waiting for its expert's answer: waiting, reminded, escalated, declining,
    closed (answered, cancelled or declined for the expert). Events of different subjects are not
    ordered: an answer that arrives before its approval leaves a closed row without the approval's
    fields, so the late approval does not open a watch on a task already answered."""

    __tablename__ = "answer_watch"
    assignment_id: str = Field(primary_key=True, max_length=64)
    expert_id: str = Field(max_length=64)
    unit_id: str = Field(max_length=64)
    request_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    mode: str = Field(default="", max_length=10)
    hours: float = 0
    deadline: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    correlation_id: str = Field(default="", max_length=64, description="the approval's, for the trail")
    approved_at: dt.datetime | None = tz_column(nullable=True)
    stage: str = Field(default="waiting", index=True, max_length=12)


TABLES = [
    table_of(t)
    for t in (
        Party,
        Preference,
        Notification,
        Delivery,
        DigestItem,
        Digest,
        LowBalanceAlert,
        ContractWatch,
        AnswerWatch,
    )
]


def metadata() -> MetaData:
    """This service's tables alone, the shared ones included: what its migrations make."""
    return service_metadata(TABLES)


def create_schema(engine: Engine) -> None:
    """Made and upgraded by this service's migrations, under a lock (`services.notifier.migrate`)."""
    upgrade(engine)
