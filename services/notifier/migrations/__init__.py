"""Alembic migrations of the notifier's own database (run by `services.notifier.migrate`).

The next change to a model is a new file in `versions/`: see docs/migrations.md.
"""
