"""Contract kind, lifecycle and dates as columns; manual assignments and extra hours; a copy of the
requests for the reports; money in 64-bit integers.

Existing contracts take their kind and dates from the record they were registered with.

Revision ID: 0002
Revises: 0001
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = {
    "contract": [
        ("hourly_rate_vnd", False),
        ("budget_cap_vnd", True),
        ("budget_used_before_vnd", False),
        ("reserved_vnd", False),
        ("consumed_vnd", False),
    ],
    "assignment": [("cost_vnd", False), ("reserved_vnd", False), ("consumed_vnd", False)],
    "ledger_line": [("vnd", False)],
}


def _money(to: sa.types.TypeEngine, frm: sa.types.TypeEngine) -> None:
    for table, columns in MONEY.items():
        with op.batch_alter_table(table) as b:
            for name, nullable in columns:
                b.alter_column(name, existing_type=frm, type_=to, existing_nullable=nullable)


def _contract_columns_from_records() -> None:
    contract = sa.table(
        "contract",
        sa.column("id", sa.String),
        sa.column("record", sa.JSON),
        sa.column("kind", sa.String),
        sa.column("starts_on", sa.Date),
        sa.column("ends_on", sa.Date),
    )
    conn = op.get_bind()
    for cid, record in conn.execute(sa.select(contract.c.id, contract.c.record)).all():
        conn.execute(
            contract.update()
            .where(contract.c.id == cid)
            .values(
                kind=record.get("kind", "project"),
                starts_on=dt.date.fromisoformat(record["start"]),
                ends_on=dt.date.fromisoformat(record["end"]),
            )
        )


def upgrade() -> None:
    op.create_table(
        "request_copy",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_copy_unit_id", "request_copy", ["unit_id"])
    with op.batch_alter_table("assignment") as b:
        b.add_column(sa.Column("origin", sa.String(length=10), nullable=False, server_default="solver"))
        b.add_column(sa.Column("extra_minutes_pending", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("contract") as b:
        b.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="project"))
        b.add_column(sa.Column("status_reason", sa.String(length=2000), nullable=False, server_default=""))
        b.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("starts_on", sa.Date(), nullable=True))
        b.add_column(sa.Column("ends_on", sa.Date(), nullable=True))
    _contract_columns_from_records()
    with op.batch_alter_table("contract") as b:
        b.alter_column("starts_on", existing_type=sa.Date(), nullable=False)
        b.alter_column("ends_on", existing_type=sa.Date(), nullable=False)
        b.create_index("ix_contract_ends_on", ["ends_on"])
        b.create_index("ix_contract_status", ["status"])
    # The defaults only filled the rows that existed; the models give every new row its value.
    for table, column in (
        ("assignment", "origin"),
        ("assignment", "extra_minutes_pending"),
        ("contract", "kind"),
        ("contract", "status_reason"),
        ("contract", "revision"),
    ):
        with op.batch_alter_table(table) as b:
            b.alter_column(column, server_default=None)
    _money(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _money(sa.Integer(), sa.BigInteger())
    with op.batch_alter_table("contract") as b:
        b.drop_index("ix_contract_status")
        b.drop_index("ix_contract_ends_on")
        for column in ("ends_on", "starts_on", "revision", "status_reason", "kind"):
            b.drop_column(column)
    with op.batch_alter_table("assignment") as b:
        b.drop_column("extra_minutes_pending")
        b.drop_column("origin")
    op.drop_index("ix_request_copy_unit_id", "request_copy")
    op.drop_table("request_copy")
