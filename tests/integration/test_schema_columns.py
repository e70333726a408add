"""A model that gains a column gets its migration, written by `Migrations.revision`; a database of
the previous version (made by `create_all`, no version table) is stamped at the baseline and
upgraded to it at start, its rows kept (SQLite, and PostgreSQL when EXPERTSHARE_TEST_PG is set).

The models here are the matcher's plus one column, `request.note`: a copy of the matcher's
migrations whose env.py hands Alembic those models, as if the model had been edited.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from sqlalchemy import Column, MetaData, String, text

from services.matcher import migrate
from services.matcher.db import metadata
from shared.db import make_engine
from tests.integration.test_schema_services import matcher_before_0002

ENV = """
from sqlalchemy import Column, String

from services.matcher.db import metadata
from shared.migrate import run_migrations

md = metadata()
md.tables["request"].append_column(Column("note", String(40)))
run_migrations(md)
"""


def newer() -> MetaData:
    md = metadata()
    md.tables["request"].append_column(Column("note", String(40)))
    return md


def test_a_new_column_comes_with_its_migration_and_old_rows_are_kept(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS.folder, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "env.py").write_text(ENV)
    migrations = dataclasses.replace(migrate.MIGRATIONS, folder=folder)

    following = f"{int(migrations.head()) + 1:04d}"
    written = migrations.revision("request note", following)
    assert written.name == f"{following}_request_note.py"
    assert "add_column" in written.read_text() and "sa.String(length=40)" in written.read_text()

    engine = make_engine(db_url)
    before = matcher_before_0002()  # the version before migrations
    before[0].metadata.create_all(engine, tables=before)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO request (id, unit_id, record, status, reason_code, reason, submitted_by, "
                "correlation_id, submitted_at) VALUES ('r1', 'w1', '{}', 'open', '', '', 'u', 'c', "
                "CURRENT_TIMESTAMP)"
            )
        )
    migrations.upgrade(engine)
    migrations.upgrade(engine)  # a second start changes nothing
    assert migrations.current(engine) == following and migrations.diff(engine, newer()) == []
    with engine.begin() as c:
        assert tuple(c.execute(text("SELECT id, status, note FROM request")).one()) == ("r1", "open", None)
    engine.dispose()
