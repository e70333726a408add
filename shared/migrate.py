"""Every service's schema, created and upgraded by Alembic at the service's start, under a lock.

A service declares its `Migrations`: the folder of its revisions, the table that records its
revision (its own, so two services could even share one database), the table whose presence
marks a database made before migrations existed, and the key of its PostgreSQL advisory lock.

`upgrade(engine)` runs every migration not yet applied, in one transaction, holding a lock: on
PostgreSQL an advisory lock (`pg_advisory_xact_lock`, freed at commit), on SQLite the write lock
(`shared.db.make_engine` begins every transaction with `BEGIN IMMEDIATE`). Two copies starting
together on a new database therefore take turns: the first creates the schema, the second finds
it at head and does nothing. A database made by `create_all` before migrations existed (the
marker table present, no version table) is stamped at the baseline, which is exactly the schema
that code made, and upgraded from there, its rows kept. (One made by an even older version,
lacking a table or column of the baseline, is refused with what it lacks, and left unchanged.)

Each service's `migrations/env.py` is two lines: it hands the service's metadata to
`run_migrations` below. Adding a migration: see `docs/migrations.md`.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlmodel.sql.sqltypes import AutoString

from shared.db import make_engine


@dataclass(frozen=True)
class Migrations:
    service: str
    folder: Path  # the service's `migrations` package: env.py and versions/
    version_table: str
    baseline: str  # the first revision: the schema `create_all` made before migrations existed
    marker: str  # a table of the baseline: present without a version table = made by `create_all`
    lock_key: int  # the PostgreSQL advisory lock's key, one per service

    def config(self, connection: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.folder))
        cfg.attributes["connection"] = connection
        cfg.attributes["version_table"] = self.version_table
        return cfg

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        with engine.begin() as conn:  # on SQLite: BEGIN IMMEDIATE, the database's write lock
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.lock_key})
            cfg = self.config(conn)
            tables = set(inspect(conn).get_table_names())
            if self.marker in tables and self.version_table not in tables:
                self._adopt(conn, cfg)
            command.upgrade(cfg, revision)

    def _adopt(self, conn: Connection, cfg: Config) -> None:
        """A database `create_all` made is stamped at the baseline, if it has every table and column
        the baseline has; one made by a version older than that is refused, naming what it lacks."""
        found = inspect(conn)
        have = {t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()}
        lacking = [
            f"{table}.{column}" if table in have else f"table {table}"
            for table, columns in sorted(self._baseline_columns().items())
            for column in (sorted(columns - have[table]) if table in have else [""])
        ]
        if lacking:
            raise RuntimeError(
                f"{self.service} database: made before migrations by a "
                f"version older than the baseline {self.baseline}, it lacks {', '.join(lacking)}. Start the "
                "version before migrations once (it adds what is missing), then this one; nothing was changed."
            )
        command.stamp(cfg, self.baseline)

    @functools.cache  # noqa: B019 - one per service, for the process's life
    def _baseline_columns(self) -> dict[str, set[str]]:
        """The baseline's tables and their columns: migrated on a throwaway SQLite database."""
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'baseline.db'}")
            self.upgrade(engine, self.baseline)
            with engine.connect() as conn:
                found = inspect(conn)
                tables = {t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()}
            engine.dispose()
        tables.pop(self.version_table)
        return tables

    def head(self) -> str:
        """The newest revision in the service's migrations folder."""
        cfg = Config()
        cfg.set_main_option("script_location", str(self.folder))
        return str(ScriptDirectory.from_config(cfg).get_current_head())

    def diff(self, engine: Engine, metadata: MetaData) -> list[Any]:
        """What the database lacks or has beyond `metadata` (Alembic's autogenerate comparison,
        types included); empty when the migrated schema is exactly the models'."""
        with engine.connect() as conn:
            opts = {"compare_type": True, "version_table": self.version_table}
            return compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)

    def revision(self, message: str, rev_id: str) -> Path:
        """Write the next migration, `versions/<rev_id>_<message>.py`, from what the models have that
        the migrated schema lacks (Alembic's autogenerate, on a throwaway SQLite database at head).
        Read and edit it before committing: autogenerate misses renames and some constraints."""
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
            self.upgrade(engine)
            with engine.begin() as conn:
                cfg = self.config(conn)
                cfg.set_section_option("post_write_hooks", "hooks", "ruff")  # the project's style
                cfg.set_section_option("post_write_hooks", "ruff.type", "exec")
                cfg.set_section_option("post_write_hooks", "ruff.executable", sys.executable)
                cfg.set_section_option("post_write_hooks", "ruff.options", "-m ruff format REVISION_SCRIPT_FILENAME")
                script = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
            engine.dispose()
        if not isinstance(script, Script):
            raise RuntimeError(f"alembic wrote no single revision: {script!r}")
        return Path(script.path)

    def current(self, engine: Engine) -> str | None:
        with engine.connect() as conn:
            if self.version_table not in inspect(conn).get_table_names():
                return None
            return conn.execute(text(f"SELECT version_num FROM {self.version_table}")).scalar()


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's `env.py`: migrate on the connection `Migrations` hands over."""
    cfg = context.config
    context.configure(
        connection=cfg.attributes["connection"],
        target_metadata=metadata,
        version_table=cfg.attributes["version_table"],
        render_as_batch=True,  # SQLite alters a table by copying it; batch mode does that for us
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _render_item(kind: str, obj: Any, _autogen: Any) -> str | Literal[False]:
    """SQLModel's `AutoString` is a plain VARCHAR: written as `sa.String`, so a migration never
    imports sqlmodel."""
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def main(migrations: Migrations, db_url: Callable[[], str], argv: list[str]) -> None:
    """Each service's `python -m services.<service>.migrate`: with no argument, upgrade its database
    (from its settings) to head; with `revision REV_ID MESSAGE`, write its next migration."""
    if len(argv) == 3 and argv[0] == "revision":
        print(migrations.revision(argv[2], argv[1]))
        return
    if argv:
        raise SystemExit(f"usage: python -m services.{migrations.service}.migrate [revision REV_ID MESSAGE]")
    engine = make_engine(db_url())
    migrations.upgrade(engine)
    print(f"{migrations.service} schema at revision {migrations.current(engine)}")


def create_pending_outbox_index() -> None:
    """In a migration of each service with an outbox: the index of the rows still to publish
    (`shared.db.OutboxRow`)."""
    from alembic import op

    from shared.db import PENDING_ONLY

    op.create_index("ix_outbox_pending", "outbox", ["id"], sqlite_where=PENDING_ONLY, postgresql_where=PENDING_ONLY)


def drop_pending_outbox_index() -> None:
    from alembic import op

    op.drop_index("ix_outbox_pending", table_name="outbox")
