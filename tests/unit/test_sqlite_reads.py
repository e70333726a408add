"""On SQLite (the embedded default) a query takes no write lock: while one is being answered, a
writer takes the lock at once, and a query is answered while a writer holds it. Before, every
transaction began with BEGIN IMMEDIATE, so a status query queued behind a re-plan's or a load's
write for up to the busy timeout (30 s), past the asker's patience (10 s): `matcher.status.get`
timed out while the country loaded."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from services.matcher.app import build
from services.matcher.settings import MatcherSettings
from shared.db import OutboxRow, create_tables, make_engine, reader, transaction
from shared.messages import Message, Reply


def take_write_lock_now(path: Path) -> None:
    """BEGIN IMMEDIATE with no patience at all: 'database is locked' if anyone holds the lock."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("COMMIT")
    finally:
        other.close()


def test_a_query_of_a_service_takes_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "matcher.db"
    svc = build(MatcherSettings(database_url=f"sqlite:///{path}", nats_url="nats://127.0.0.1:1"))
    create_tables(svc.engine, [])

    def query(session: Session, _q: Any) -> Reply:
        session.exec(select(func.count()).select_from(OutboxRow)).one()  # its read transaction is open
        take_write_lock_now(path)
        return Reply(ok=True)

    assert svc._read(query, Message()).ok


def test_a_reader_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_tables(engine, [])
    with transaction(engine) as writing:
        writing.add(OutboxRow(event_id="e1", subject="x.y.happened", payload="{}"))
        writing.flush()  # the write lock is held until this transaction ends
        with Session(reader(engine)) as reading:
            assert reading.exec(select(func.count()).select_from(OutboxRow)).one() == 0  # its snapshot
