"""One word for a proposal waiting for staff: the matcher's tables say `proposed`, as contracts and
the messages do (it said `pending`). The partial unique index on a slot's live proposal names
the statuses it covers, so it is made again over the new word.

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

_INDEX = "uq_proposal_live_slot"


def _live(word: str) -> sa.TextClause:
    return sa.text(f"status IN ('{word}', 'approved', 'accepted')")


def _rename(old: str, new: str) -> None:
    op.drop_index(_INDEX, table_name="proposal", sqlite_where=_live(old), postgresql_where=_live(old))
    op.execute(sa.text("UPDATE proposal SET status = :new WHERE status = :old").bindparams(old=old, new=new))
    op.create_index(
        _INDEX,
        "proposal",
        ["request_id", "slot"],
        unique=True,
        sqlite_where=_live(new),
        postgresql_where=_live(new),
    )


def upgrade() -> None:
    _rename("pending", "proposed")


def downgrade() -> None:
    _rename("proposed", "pending")
