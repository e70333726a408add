"""The portal's schema, created and upgraded by Alembic at the service's start, under a lock
(`shared.migrate`; adding a migration: docs/migrations.md).

A database made by `create_all` before migrations existed (its tables, no `portal_alembic_version`) is
stamped at the baseline, which is exactly the schema it had, and upgraded from there.
`python -m services.portal.migrate` upgrades the database of `PORTAL_DATABASE_URL` (or the
embedded SQLite file) by hand; `python -m services.portal.migrate revision NEXT_ID "what changes"`
writes the next migration from the models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.migrate import Migrations, main

MIGRATIONS = Migrations(
    service="portal",
    folder=Path(__file__).with_name("migrations"),
    version_table="portal_alembic_version",
    baseline="0001",
    marker="portal_user",
    lock_key=7_305_110_904,
)
config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
current = MIGRATIONS.current


if __name__ == "__main__":
    from services.portal.settings import PortalSettings

    main(MIGRATIONS, lambda: PortalSettings().db_url(), sys.argv[1:])
