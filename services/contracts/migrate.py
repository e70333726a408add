"""The contracts schema, created and upgraded by Alembic at the service's start, under a lock
(`shared.migrate`; adding a migration: docs/migrations.md).

A database made by `create_all` before migrations existed (its tables, no `alembic_version`) is
stamped at the baseline, which is exactly the schema it had, and upgraded from there.
`python -m services.contracts.migrate` upgrades the database of `CONTRACTS_DATABASE_URL` (or the
embedded SQLite file) by hand; `python -m services.contracts.migrate revision NEXT_ID "what changes"`
writes the next migration from the models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.migrate import Migrations, main

FIRST = "0001"
MIGRATIONS = Migrations(
    service="contracts",
    folder=Path(__file__).with_name("migrations"),
    version_table="alembic_version",  # the first service migrated kept Alembic's default name
    baseline=FIRST,
    marker="contract",
    lock_key=7_305_110_901,
)
config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
current = MIGRATIONS.current


if __name__ == "__main__":
    from services.contracts.settings import ContractsSettings

    main(MIGRATIONS, lambda: ContractsSettings().db_url(), sys.argv[1:])
