"""The portal's schema as `create_all` made it before migrations existed: the baseline.

A database made by that code (its tables, no version table) is stamped at this revision and
upgraded from there (`shared.migrate`).

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Every table, as `create_all` made them."""
    op.create_table(
        "portal_sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("portal_sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sign_in_failure_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_portal_sign_in_failure_username"), ["username"], unique=False)

    op.create_table(
        "portal_user",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("expert_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "portal_api_token",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["portal_user.username"],
        ),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("portal_api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_api_token_username"), ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_api_token_username"))

    op.drop_table("portal_api_token")
    op.drop_table("portal_user")
    with op.batch_alter_table("portal_sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sign_in_failure_username"))
        batch_op.drop_index(batch_op.f("ix_portal_sign_in_failure_at"))

    op.drop_table("portal_sign_in_failure")
