"""Alembic environment: run from `services.contracts.migrate` on the connection it hands over."""

from services.contracts.db import metadata
from shared.migrate import run_migrations

run_migrations(metadata())
