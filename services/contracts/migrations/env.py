"""Alembic environment: run from `services.contracts.migrate` on the connection it hands over."""

from __future__ import annotations

from alembic import context

from services.contracts.db import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata(),
    render_as_batch=True,  # SQLite alters a table by copying it; batch mode does that for us
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
