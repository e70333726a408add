"""The contracts service's tables: units, travel, experts, contracts with their ledger balances,
assignments and ledger lines. Money is integer dong, time integer minutes. No other service reads
these tables; what others need is published as events.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, DateTime, Engine
from sqlmodel import Field, SQLModel

from shared.db import create_tables, utcnow


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


class ContractRow(SQLModel, table=True):
    __tablename__ = "contract"
    id: str = Field(primary_key=True, max_length=64)
    expert_id: str = Field(index=True, max_length=64)
    record: dict = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=20)
    hourly_rate_vnd: int
    cap_minutes: int
    used_minutes_before: int = Field(description="hours_used at registration, as minutes")
    budget_cap_vnd: int | None = None
    budget_used_before_vnd: int = 0
    max_concurrent: int
    active_before: int = 0
    reserved_minutes: int = 0
    consumed_minutes: int = 0
    reserved_vnd: int = 0
    consumed_vnd: int = 0
    active_count: int = 0

    @property
    def used_minutes(self) -> int:
        return self.used_minutes_before + self.reserved_minutes + self.consumed_minutes

    @property
    def used_vnd(self) -> int:
        return self.budget_used_before_vnd + self.reserved_vnd + self.consumed_vnd


class AssignmentRow(SQLModel, table=True):
    __tablename__ = "assignment"
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
    cost_vnd: int = Field(description="the matcher's estimate; the ledger prices from the contract")
    explanation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    plan_input_sha256: str = ""
    status: str = Field(default="proposed", index=True, max_length=20)
    reserved_minutes: int = 0
    reserved_vnd: int = 0
    logged_minutes: int = 0
    consumed_vnd: int = 0
    decided_by: str = ""
    note: str = ""
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class LedgerLine(SQLModel, table=True):
    """One movement of hours and money under a contract: reserve, consume or release."""

    __tablename__ = "ledger_line"
    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(index=True, max_length=64)
    assignment_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=10)
    minutes: int
    vnd: int
    by: str = ""
    at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


def _tables() -> list[object]:
    from services.contracts.audit import AuditEntry, AuditHead

    models = (UnitRow, TravelRow, ExpertRow, ContractRow, AssignmentRow, LedgerLine, AuditEntry, AuditHead)
    return [m.__table__ for m in models]  # type: ignore[attr-defined]


def create_schema(engine: Engine) -> None:
    create_tables(engine, _tables())
