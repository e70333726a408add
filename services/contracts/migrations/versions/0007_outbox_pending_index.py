"""An index of the outbox rows still to publish: the relay's read of them walked the whole table.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from shared.migrate import create_pending_outbox_index, drop_pending_outbox_index

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_pending_outbox_index()


def downgrade() -> None:
    drop_pending_outbox_index()
