"""The matcher's tables: its copy of the reference data (fed by the contracts service's events),
the requests it plans for, its proposals, the pairs it must never propose again, and every plan it
made with the input it planned from (for the audit trail). Nothing else reads these tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, DateTime, Engine, Index, MetaData, Text, text
from sqlmodel import Field, SQLModel

from services.matcher.migrate import upgrade
from shared.db import service_metadata, table_of, utcnow
from shared.leader import TABLES as LEADER_TABLES
from shared.statuses import LIVE, AssignmentStatus, RequestStatus, sql_words


def _json() -> Column:
    return Column(JSON, nullable=False)


class UnitCopy(SQLModel, table=True):
    __tablename__ = "unit_copy"
    id: str = Field(primary_key=True, max_length=64)
    record: dict = Field(sa_column=_json())


class TravelCopy(SQLModel, table=True):
    __tablename__ = "travel_copy"
    from_unit: str = Field(primary_key=True, max_length=64)
    to_unit: str = Field(primary_key=True, max_length=64)
    minutes: int


class ExpertCopy(SQLModel, table=True):
    __tablename__ = "expert_copy"
    id: str = Field(primary_key=True, max_length=64)
    record: dict = Field(sa_column=_json())
    committed_hours: float | None = Field(default=None, description="from the ledger's balances")
    # The expert revision of the total applied last: an older one (another contract's) is ignored.
    booking_revision: int | None = None


class ContractCopy(SQLModel, table=True):
    __tablename__ = "contract_copy"
    id: str = Field(primary_key=True, max_length=64)
    record: dict = Field(sa_column=_json())
    hours_used: float | None = None
    budget_used_vnd: int | None = None
    active_assignments: int | None = None
    # The revision of the balance applied last: an older one arriving late is ignored.
    balance_revision: int | None = None
    # The live assignments that balance includes, comma separated (BalanceChanged.counted).
    counted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RequestRow(SQLModel, table=True):
    __tablename__ = "request"
    id: str = Field(primary_key=True, max_length=64)
    unit_id: str = Field(index=True, max_length=64)
    record: dict = Field(sa_column=_json())
    status: str = Field(default=RequestStatus.OPEN, index=True, max_length=20)
    reason_code: str = ""
    reason: str = ""
    submitted_by: str = ""
    # Of the last message that acted on this request (its submission, a rejection, a decline):
    # what the matcher decides for it next carries this id, so one id follows the request.
    correlation_id: str = Field(default="", max_length=64)
    submitted_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


_LIVE_SQL = text(f"status IN ({sql_words(LIVE)})")  # proposed, approved, accepted (migration 0005)


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    # At most one live proposal per request slot, whatever a plan or an event does.
    __table_args__ = (
        Index(
            "uq_proposal_live_slot",
            "request_id",
            "slot",
            unique=True,
            sqlite_where=_LIVE_SQL,
            postgresql_where=_LIVE_SQL,
        ),
    )
    id: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(index=True, max_length=64)
    slot: int = 0
    expert_id: str = Field(max_length=64)
    contract_id: str = Field(max_length=64)
    mode: str = Field(max_length=10)
    travel_minutes: int = 0
    minutes: int
    cost_vnd: int
    # A community member learning beside the expert (`solver.trainee`): their minutes count against
    # their capacity, never against the contract.
    trainee_id: str | None = Field(default=None, max_length=64)
    trainee_minutes: int = 0
    # proposed (waiting for staff), approved, accepted, rejected, declined, withdrawn, cancelled, completed
    status: str = Field(default=AssignmentStatus.PROPOSED, index=True, max_length=20)
    plan_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Exclusion(SQLModel, table=True):
    __tablename__ = "exclusion"
    request_id: str = Field(primary_key=True, max_length=64)
    expert_id: str = Field(primary_key=True, max_length=64)
    reason: str = ""


class PlanRun(SQLModel, table=True):
    """One re-solve: the scenario it planned from and what it decided, kept for the audit trail."""

    __tablename__ = "plan_run"
    id: int | None = Field(default=None, primary_key=True)
    input_sha256: str = Field(max_length=64)
    scenario: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20)
    objective: dict = Field(default_factory=dict, sa_column=_json())
    proposed: int = 0
    seconds: float = 0
    # Approved work that no longer fits its expert's availability or its contract (kept, reported
    # here for staff), and pending proposals let go because they no longer fit: sentences.
    overcommitted: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


TABLES = [
    table_of(m) for m in (UnitCopy, TravelCopy, ExpertCopy, ContractCopy, RequestRow, Proposal, Exclusion, PlanRun)
] + LEADER_TABLES  # the plan's fence and the change counter copies raise for the leader


def metadata() -> MetaData:
    """This service's tables alone, the shared ones included: what its migrations make."""
    return service_metadata(TABLES)


def create_schema(engine: Engine) -> None:
    """Made and upgraded by this service's migrations, under a lock (`services.matcher.migrate`)."""
    upgrade(engine)
