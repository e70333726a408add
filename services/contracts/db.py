"""The contracts service's tables: units, travel, experts, contracts with their ledger balances,
assignments, ledger lines and a copy of the requests (for the reports). Money is integer dong in
64-bit columns (a province's budget passes the 2.1 billion of a 32-bit integer), time integer
minutes. The schema is made by the Alembic migrations in `migrations/`; a test checks they match
these models. No other service reads these tables; what others need is published as events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Engine, Index, MetaData, text
from sqlmodel import Field, SQLModel

from shared.db import service_metadata, table_of, utcnow
from shared.statuses import HELD, sql_words
from shared.statuses import AssignmentStatus as A
from shared.statuses import ContractStatus as C
from shared.statuses import RequestStatus as R


class UnitRow(SQLModel, table=True):
    __tablename__ = "unit"
    id: str = Field(primary_key=True, max_length=64)
    record: dict = Field(sa_column=Column(JSON, nullable=False))


class TravelRow(SQLModel, table=True):
    __tablename__ = "travel"
    from_unit: str = Field(primary_key=True, max_length=64)
    to_unit: str = Field(primary_key=True, max_length=64)
    minutes: int


class ExpertRow(SQLModel, table=True):
    __tablename__ = "expert"
    id: str = Field(primary_key=True, max_length=64)
    record: dict = Field(sa_column=Column(JSON, nullable=False))
    capacity_minutes: int
    committed_minutes: int = Field(description="committed before this system: from the record")
    # The ledger's share of the expert's time: reserved by approvals, consumed by logged work.
    booked_minutes: int = 0
    # Bumped with every balance published for any of the expert's contracts (BalanceChanged.expert_revision).
    booking_revision: int = 0


def dong(default: int | None = 0, *, nullable: bool = False) -> Any:
    return Field(default=default, sa_type=BigInteger, nullable=nullable)


class ContractRow(SQLModel, table=True):
    __tablename__ = "contract"
    id: str = Field(primary_key=True, max_length=64)
    expert_id: str = Field(index=True, max_length=64)
    record: dict = Field(sa_column=Column(JSON, nullable=False))
    kind: str = Field(default="project", max_length=10, description="project or sharing")
    # draft, active, suspended, exhausted, expired, terminated (see `lifecycle`)
    status: str = Field(default=C.ACTIVE, index=True, max_length=20)
    status_reason: str = Field(default="", max_length=2000)
    # Bumped on every change the matcher must know of, so it can ignore a stale event.
    revision: int = 0
    # Bumped with every published balance (in the ledger change's transaction): balances carry
    # absolute values, so a consumer keeps the highest revision and drops an older one.
    balance_revision: int = 0
    starts_on: dt.date
    ends_on: dt.date = Field(index=True)
    hourly_rate_vnd: int = dong()
    cap_minutes: int
    used_minutes_before: int = Field(description="hours_used at registration, as minutes")
    budget_cap_vnd: int | None = dong(None, nullable=True)
    budget_used_before_vnd: int = dong()
    max_concurrent: int
    active_before: int = 0
    reserved_minutes: int = 0
    consumed_minutes: int = 0
    reserved_vnd: int = dong()
    consumed_vnd: int = dong()
    active_count: int = 0

    @property
    def used_minutes(self) -> int:
        return self.used_minutes_before + self.reserved_minutes + self.consumed_minutes

    @property
    def used_vnd(self) -> int:
        return self.budget_used_before_vnd + self.reserved_vnd + self.consumed_vnd


_HELD_SQL = text(f"status IN ({sql_words(HELD)})")  # approved, accepted (as its migrations made it)


class AssignmentRow(SQLModel, table=True):
    __tablename__ = "assignment"
    # One approved or accepted assignment per request slot, enforced by the database (migration 0005).
    __table_args__ = (
        Index(
            "uq_assignment_held_slot",
            "request_id",
            "slot",
            unique=True,
            sqlite_where=_HELD_SQL,
            postgresql_where=_HELD_SQL,
        ),
    )
    id: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(index=True, max_length=64)
    slot: int = 0
    unit_id: str = Field(max_length=64)
    title: str = ""
    expert_id: str = Field(index=True, max_length=64)
    contract_id: str = Field(index=True, max_length=64)
    mode: str = Field(max_length=10)
    hours: float
    deadline: dt.date
    travel_minutes: int
    minutes: int
    cost_vnd: int = Field(sa_type=BigInteger, description="the matcher's estimate; the ledger prices from the contract")
    explanation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    plan_input_sha256: str = ""
    status: str = Field(default=A.PROPOSED, index=True, max_length=20)
    origin: str = Field(default="solver", max_length=10, description="solver, or manual (a staff override)")
    reserved_minutes: int = 0
    reserved_vnd: int = dong()
    logged_minutes: int = 0
    consumed_vnd: int = dong()
    # Minutes logged beyond the reservation: not consumed until staff approve them.
    extra_minutes_pending: int = 0
    decided_by: str = ""
    note: str = ""
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LedgerLine(SQLModel, table=True):
    """One movement of hours and money under a contract: reserve, consume or release."""

    __tablename__ = "ledger_line"
    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(index=True, max_length=64)
    assignment_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=10)
    minutes: int
    vnd: int = Field(sa_type=BigInteger)
    by: str = ""
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class RequestCopy(SQLModel, table=True):
    """The matcher's requests as its events told them: what each unit asked for (reports)."""

    __tablename__ = "request_copy"
    id: str = Field(primary_key=True, max_length=64)
    unit_id: str = Field(index=True, max_length=64)
    title: str = ""
    priority: int = 3
    hours: float = 0
    status: str = Field(default=R.OPEN, max_length=20, description="open, cancelled or completed")
    submitted_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def _tables() -> list[object]:
    from services.contracts.audit import AuditEntry, AuditHead

    models = (UnitRow, TravelRow, ExpertRow, ContractRow, AssignmentRow, LedgerLine, RequestCopy, AuditEntry, AuditHead)
    return [table_of(m) for m in models]


def metadata() -> MetaData:
    """This service's tables alone (SQLModel's metadata also holds other services' models)."""
    return service_metadata(_tables())


def create_schema(engine: Engine) -> None:
    from services.contracts.migrate import upgrade

    upgrade(engine)
