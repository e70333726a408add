"""A booking revision on each expert: bumped with every published balance of any of the expert's
contracts, so a consumer applies the expert's total (committed hours across all contracts) only
when it is newer than the last it applied, whichever contract's balance carried it.

Existing experts start at 0.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("expert") as b:
        b.add_column(sa.Column("booking_revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("expert") as b:
        b.alter_column("booking_revision", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("expert") as b:
        b.drop_column("booking_revision")
