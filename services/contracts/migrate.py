"""The contracts schema, created and upgraded by Alembic at the service's start.

`upgrade(engine)` runs every migration not yet applied, in one transaction; on PostgreSQL an
advisory lock makes two instances starting together take turns. A database made before
migrations existed (tables but no `alembic_version`) is stamped at the first revision, which is
exactly the schema it had, and upgraded from there. `python -m services.contracts.migrate`
upgrades the database of `CONTRACTS_DATABASE_URL` (or the embedded SQLite file) by hand.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

FIRST = "0001"
# An arbitrary constant: the key of the advisory lock migrations take on PostgreSQL.
_LOCK_KEY = 7_305_110_901


def config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg = config(conn)
        tables = set(inspect(conn).get_table_names())
        if "contract" in tables and "alembic_version" not in tables:
            command.stamp(cfg, FIRST)
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


if __name__ == "__main__":
    from services.contracts.settings import ContractsSettings
    from shared.db import make_engine

    eng = make_engine(ContractsSettings().db_url())
    upgrade(eng)
    print(f"contracts schema at revision {current(eng)}")
