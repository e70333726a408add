"""Alembic migrations of the matcher's own database (run by `services.matcher.migrate`).

The next change to a model is a new file in `versions/`: see docs/migrations.md.
"""
