"""Alembic environment: run from `services.notifier.migrate` on the connection it hands over."""

from services.notifier.db import metadata
from shared.migrate import run_migrations

run_migrations(metadata())
