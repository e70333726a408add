"""Alembic environment: run from `services.portal.migrate` on the connection it hands over."""

from services.portal.users import metadata
from shared.migrate import run_migrations

run_migrations(metadata())
