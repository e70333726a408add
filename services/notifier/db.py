"""The notifier's tables: a directory of parties (names, language) fed by the contracts service's
events, and the inbox. One notification per party per event per kind, enforced by the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, DateTime, Engine, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import create_tables, utcnow


class Party(SQLModel, table=True):
    __tablename__ = "party"
    id: str = Field(primary_key=True, max_length=80, description="expert:e1, unit:w2269, staff:...")
    name: str = Field(max_length=200)
    language: str = Field(default="vi", max_length=5)


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
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class LowBalanceAlert(SQLModel, table=True):
    """A contract already reported as running low (once per crossing, not on every change)."""

    __tablename__ = "low_balance_alert"
    contract_id: str = Field(primary_key=True, max_length=64)
    low: bool = False


TABLES = [m.__table__ for m in (Party, Notification, LowBalanceAlert)]  # type: ignore[attr-defined]


def create_schema(engine: Engine) -> None:
    create_tables(engine, TABLES)
