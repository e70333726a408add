"""One live proposal per request slot; a plan names the work it found over-committed.

A database from before this may hold two live proposals for one slot (two copies of the matcher
fighting, or a re-plan over an approval). Before the unique index: of each such slot's pending
proposals, the newest is kept when none is held, and the others are marked withdrawn (contracts
still shows them as proposals until staff decide, and its own index refuses a second approval).
Two held (approved or accepted) proposals for one slot are not guessed at: the upgrade stops and
names them, and contracts' migration 0005 names the same slots.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _one_live_per_slot() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, request_id, slot, status FROM proposal WHERE status IN ('pending', 'approved', 'accepted') "
            "ORDER BY request_id, slot, created_at, id"
        )
    ).all()
    slots: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        slots.setdefault((row.request_id, row.slot), []).append(row)
    doubly_held = [
        f"{r}/{s} ({len(held)} held)"
        for (r, s), live in slots.items()
        if len(held := [p for p in live if p.status != "pending"]) > 1
    ]
    if doubly_held:
        raise RuntimeError(
            "matcher database: slots with two approved or accepted proposals, to be settled by "
            f"hand with contracts before upgrading: {', '.join(doubly_held)}"
        )
    for live in slots.values():
        held = [p for p in live if p.status != "pending"]
        keep = held[0] if held else live[-1]
        for p in live:
            if p is not keep:
                conn.execute(sa.text("UPDATE proposal SET status = 'withdrawn' WHERE id = :id"), {"id": p.id})


def upgrade() -> None:
    _one_live_per_slot()
    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overcommitted", sa.JSON(), nullable=True))

    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(
            "uq_proposal_live_slot",
            ["request_id", "slot"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'approved', 'accepted')"),
            postgresql_where=sa.text("status IN ('pending', 'approved', 'accepted')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_proposal_live_slot",
            sqlite_where=sa.text("status IN ('pending', 'approved', 'accepted')"),
            postgresql_where=sa.text("status IN ('pending', 'approved', 'accepted')"),
        )

    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.drop_column("overcommitted")
