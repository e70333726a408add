"""The matcher schema, created and upgraded by Alembic at the service's start, under a lock
(`shared.migrate`; adding a migration: docs/migrations.md).

A database made by `create_all` before migrations existed (its tables, no `matcher_alembic_version`) is
stamped at the baseline, which is exactly the schema it had, and upgraded from there.
`python -m services.matcher.migrate` upgrades the database of `MATCHER_DATABASE_URL` (or the
embedded SQLite file) by hand; `python -m services.matcher.migrate revision NEXT_ID "what changes"`
writes the next migration from the models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.migrate import Migrations, main

MIGRATIONS = Migrations(
    service="matcher",
    folder=Path(__file__).with_name("migrations"),
    version_table="matcher_alembic_version",
    baseline="0001",
    marker="request",
    lock_key=7_305_110_902,
)
config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
current = MIGRATIONS.current


if __name__ == "__main__":
    from services.matcher.settings import MatcherSettings

    main(MIGRATIONS, lambda: MatcherSettings().db_url(), sys.argv[1:])
