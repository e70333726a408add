"""A table created by an earlier version gains the model's new columns at start, its rows kept
(SQLite, and PostgreSQL when EXPERTSHARE_TEST_PG is set)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, text

from shared.db import create_tables, make_engine


def thing(*extra: Column) -> Table:  # type: ignore[type-arg]
    return Table("thing", MetaData(), Column("id", String(10), primary_key=True),
                 Column("name", String(40), nullable=False), *extra)


def test_new_columns_are_added_and_old_rows_kept(db_url: str) -> None:
    engine = make_engine(db_url)
    create_tables(engine, [thing()])
    with engine.begin() as c:
        c.execute(text("INSERT INTO thing (id, name) VALUES ('t1', 'older row')"))
    newer = thing(Column("note", String(40), nullable=False, default="none yet"), Column("weight", Integer))
    create_tables(engine, [newer])
    create_tables(engine, [newer])  # a second start changes nothing
    with engine.begin() as c:
        row = c.execute(text("SELECT name, note, weight FROM thing WHERE id = 't1'")).one()
    assert tuple(row) == ("older row", "none yet", None)
    engine.dispose()


def test_a_new_required_column_without_default_asks_for_a_migration(db_url: str) -> None:
    engine = make_engine(db_url)
    create_tables(engine, [thing()])
    with pytest.raises(RuntimeError, match="thing.size is new, required and has no default"):
        create_tables(engine, [thing(Column("size", Integer, nullable=False))])
    engine.dispose()
