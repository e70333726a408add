"""The notifier's schema as `create_all` made it before migrations existed: the baseline.

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
        "answer_watch",
        sa.Column("assignment_id", sa.String(length=64), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    with op.batch_alter_table("answer_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_watch_stage"), ["stage"], unique=False)

    op.create_table(
        "contract_watch",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("expert_id", sa.String(length=64), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("warned_end", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("source_event_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_party"), ["party"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_status"), ["status"], unique=False)

    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party", "period", name="one_digest_per_period"),
    )
    op.create_table(
        "digest_item",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    with op.batch_alter_table("digest_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_item_digest_id"), ["digest_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_digest_item_party"), ["party"], unique=False)

    op.create_table(
        "low_balance_alert",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("low", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.String(length=64), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_event_id", "party", "kind", name="one_per_party_event"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_party"), ["party"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_event_id"), ["event_id"], unique=True)

    op.create_table(
        "party",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "preference",
        sa.Column("party", sa.String(length=80), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("channels", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.Column("webhook_secret_sealed", sa.String(length=500), nullable=True),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party"),
    )
    op.create_table(
        "processed_message",
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )


def downgrade() -> None:
    op.drop_table("processed_message")
    op.drop_table("preference")
    op.drop_table("party")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_party"))

    op.drop_table("notification")
    op.drop_table("low_balance_alert")
    with op.batch_alter_table("digest_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_item_party"))
        batch_op.drop_index(batch_op.f("ix_digest_item_digest_id"))

    op.drop_table("digest_item")
    op.drop_table("digest")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_delivery_party"))

    op.drop_table("delivery")
    op.drop_table("contract_watch")
    with op.batch_alter_table("answer_watch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_watch_stage"))

    op.drop_table("answer_watch")
