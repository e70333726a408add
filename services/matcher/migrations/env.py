"""Alembic environment: run from `services.matcher.migrate` on the connection it hands over."""

from services.matcher.db import metadata
from shared.migrate import run_migrations

run_migrations(metadata())
