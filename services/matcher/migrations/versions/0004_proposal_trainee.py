"""A proposal may name a trainee: a community member of the request's commune learning beside the
expert (`solver.trainee`), with the minutes they spend (against their capacity, no contract's).

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
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("trainee_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("trainee_minutes", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("proposal") as batch:
        batch.alter_column("trainee_minutes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("proposal") as batch:
        batch.drop_column("trainee_minutes")
        batch.drop_column("trainee_id")
