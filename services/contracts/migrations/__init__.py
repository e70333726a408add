"""Alembic migrations of the contracts service's own database (run by `migrate.upgrade`)."""
