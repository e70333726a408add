"""At most one approved or accepted assignment per request slot: a partial unique index, so the
database itself refuses a second expert for a slot, whatever the code above it does.

A database that already holds two approved or accepted assignments for one slot (the double
booking this index prevents) is not changed behind staff's back: the upgrade stops and names
them, to be resolved (one of each pair cancelled) before the service starts.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("status IN ('approved', 'accepted')")


def upgrade() -> None:
    twice = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT request_id, slot, COUNT(*) FROM assignment WHERE status IN ('approved', 'accepted') "
                "GROUP BY request_id, slot HAVING COUNT(*) > 1 ORDER BY request_id, slot"
            )
        )
        .all()
    )
    if twice:
        slots = ", ".join(f"{r}/{s} ({n} assignments)" for r, s, n in twice[:50])
        raise RuntimeError(
            f"request slots with more than one approved or accepted assignment: {slots}; "
            "cancel all but one of each before upgrading"
        )
    op.create_index(
        "uq_assignment_held_slot",
        "assignment",
        ["request_id", "slot"],
        unique=True,
        sqlite_where=HELD,
        postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("uq_assignment_held_slot", table_name="assignment")
