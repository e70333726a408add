"""Sessions on the server, disabled users, failed sign-ins per address.

`portal_session` holds signed-in sessions (the SHA-256 of each id) so that logout, a password
change and disabling a user end them; `portal_user.disabled` (false for every existing user);
`portal_sign_in_failure.address` (empty for the failures before it: they count per name only).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The sessions' table, the disabled flag, the failures' address."""
    op.create_table(
        "portal_session",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["portal_user.username"],
        ),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_session_seen_at"), ["seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_portal_session_username"), ["username"], unique=False)

    with op.batch_alter_table("portal_sign_in_failure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_portal_sign_in_failure_address"), ["address"], unique=False)

    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.drop_column("disabled")

    with op.batch_alter_table("portal_sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sign_in_failure_address"))
        batch_op.drop_column("address")

    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_session_username"))
        batch_op.drop_index(batch_op.f("ix_portal_session_seen_at"))

    op.drop_table("portal_session")
