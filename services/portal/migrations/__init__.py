"""Alembic migrations of the portal's own database (run by `services.portal.migrate`).

The next change to a model is a new file in `versions/`: see docs/migrations.md.
"""
