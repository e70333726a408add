"""A balance revision on each contract: bumped with every published balance, so a consumer can
tell an older `BalanceChanged` from a newer one when they arrive out of order.

Existing contracts start at 0; their next balance is published as revision 1.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contract") as b:
        b.add_column(sa.Column("balance_revision", sa.Integer(), nullable=False, server_default="0"))
    # The default only filled the rows that existed; the model gives every new row its value.
    with op.batch_alter_table("contract") as b:
        b.alter_column("balance_revision", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("contract") as b:
        b.drop_column("balance_revision")
