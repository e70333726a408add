"""The audit entry records the verified actor (role, party, channel) and a person's proof.

Entries already written keep NULL in all four: `audit verify` counts them as unsigned (before
signing) and their hashes stay what they were (the seal covers the new fields only when set).
`audit_head.signing_from` marks where signing began: an entry from there on without its actor is
reported.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_role", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("actor_party", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("proof", sa.JSON(), nullable=True))
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_from", sa.Integer(), nullable=False, server_default="1"))
    op.execute("UPDATE audit_head SET signing_from = seq + 1")  # what is written from now on is signed
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.alter_column("signing_from", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("signing_from")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("proof")
        batch_op.drop_column("channel")
        batch_op.drop_column("actor_party")
        batch_op.drop_column("actor_role")
