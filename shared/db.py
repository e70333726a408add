"""Database helpers every service uses: engines, one transaction per message, outbox, dedup.

- `make_engine` gives SQLite (the embedded default: WAL; a process's writers queue first come
  first served, `shared.write_gate`, and a busy timeout covers other processes) or PostgreSQL
  from one URL; `reader(engine)` is the same database for queries, which on SQLite read their
  snapshot without taking (or waiting for) the write lock.
- `OutboxRow` holds events written in the same transaction as the change that caused them; the
  relay in `shared.bus` publishes them afterwards, so a crash between commit and publish loses
  nothing (the row is published on restart, deduplicated by the server on its event id).
- `ProcessedMessage` records each command or event id handled, in that same transaction, with the
  reply given: a redelivered or repeated message changes nothing twice and gets the same answer.
Each service keeps these tables in its own database; none reads another's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    Row,
    Table,
    Text,
    bindparam,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from shared.clock import utcnow
from shared.tracing import remember_trace
from shared.write_gate import GatedConnection


def tz_column(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error's text (logged, dead-lettered, answered) never carries the
    # values of the statement, which may be a message's secret or its whole input.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": GatedConnection},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # isolation_level=None hands transaction control to us: BEGIN IMMEDIATE below takes
            # the write lock up front, so two writers never both read-then-write the same row.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A reader (`reader(engine)`) begins a plain read transaction: in WAL it reads its own
            # snapshot while a writer commits, and never queues behind one for the write lock.
            # A writer queues behind this process's other writers first (`shared.write_gate`).
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.connection.dbapi_connection.begin_write()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)


READ_ONLY = "expertshare_read_only"


def reader(engine: Engine) -> Engine:
    """The engine for queries that write nothing (status, reports). On SQLite their transactions
    take no write lock: a status query is answered while a long write (a re-plan's, a load's)
    holds it, instead of waiting for it (up to the busy timeout, past the asker's patience).
    On PostgreSQL it is the same engine: readers never wait for writers there."""
    return engine.execution_options(**{READ_ONLY: True})


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one commit; rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


T = TypeVar("T")
#: PostgreSQL's deadlock_detected and serialization_failure: the transaction did nothing and may
#: simply run again. SQLite queues writers (BEGIN IMMEDIATE, busy timeout) and never deadlocks.
TRANSIENT_SQLSTATES = ("40P01", "40001")
RETRIES = 4


def is_transient(err: BaseException) -> bool:
    orig = getattr(err, "orig", None)
    return isinstance(err, DBAPIError) and getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def retrying(fn: Callable[[], T], attempts: int = RETRIES) -> T:
    """Run a whole transaction again when the database aborted it for a deadlock or a
    serialization failure, a few times with a short random pause; any other error passes."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except DBAPIError as err:
            if not is_transient(err) or attempt == attempts:
                raise
            structlog.get_logger("db").warning("transaction_retried", attempt=attempt, error=type(err.orig).__name__)
            time.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")


#: The rows a relay still has to publish: without it, each relay's read of the oldest unpublished
#: rows walked the whole table (4 ms at 31,000 rows, a notifier's after one country's load, and
#: growing with every event ever written; the notifier's relay spent 17% of its process there).
PENDING_ONLY = text("published_at IS NULL")


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "id", sqlite_where=PENDING_ONLY, postgresql_where=PENDING_ONLY),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=64)
    subject: str = Field(max_length=200)
    correlation_id: str = Field(default="", max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: dt.datetime | None = tz_column(nullable=True)


class ProcessedMessage(SQLModel, table=True):
    __tablename__ = "processed_message"

    message_id: str = Field(primary_key=True, max_length=200)
    subject: str = Field(max_length=200)
    reply: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    processed_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def table_of(model: type[SQLModel]) -> Table:
    """The table SQLModel's metaclass made for `model` (its `__table__`, which mypy does not see)."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


SHARED_TABLES = [table_of(OutboxRow), table_of(ProcessedMessage)]


def service_metadata(tables: Sequence[Any]) -> MetaData:
    """One service's tables alone, with the shared ones (SQLModel's metadata holds every service's
    models): what its migrations must make, and what the schema tests compare the database with."""
    md = MetaData()
    for table in [*SHARED_TABLES, *tables]:
        table.to_metadata(md)
    return md


def create_tables(engine: Engine, tables: Sequence[Any]) -> None:
    """`create_all` of the shared tables and `tables`: for tests of the shared code only. A service
    never calls it (two copies starting together race on it); its migrations make its schema."""
    SQLModel.metadata.create_all(engine, tables=[*SHARED_TABLES, *tables])


# The statements of every transaction, built once: building one costs SQLAlchemy more than running
# it (a prebuilt select of three parties by id 0.10 ms against 0.29 ms, measured), and a burst of
# events runs them hundreds of times a second.
OUTBOX_INSERT = insert(table_of(OutboxRow))
PROCESSED_INSERT = insert(table_of(ProcessedMessage))
PROCESSED_GET = (
    table_of(ProcessedMessage).select().where(table_of(ProcessedMessage).c.message_id == bindparam("message_id"))
)
_ABSENT: dict[tuple[str, str, str], Any] = {}


def add_event(session: Session, subject: str, message: BaseModel) -> None:
    """Queue an event for publication when this transaction commits: one statement, not an object
    for the unit of work (a handler that tells many parties writes many of these)."""
    data = message.model_dump(mode="json")
    remember_trace(data["event_id"])
    session.execute(
        OUTBOX_INSERT,
        dict(
            event_id=data["event_id"],
            subject=subject,
            correlation_id=data.get("correlation_id", ""),
            payload=json.dumps(data, ensure_ascii=False),
            created_at=utcnow(),
        ),
    )


def insert_absent(session: Session, table: Table, values: dict[str, Any], returning: Any = None) -> Any:
    """Insert a row unless one with the same unique key is there (`ON CONFLICT DO NOTHING`, on
    PostgreSQL waiting for a concurrent insert of that key to commit or roll back). With
    `returning` (a column), the new row's value of it, or None when nothing was inserted."""
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, "" if returning is None else returning.name)
    stmt = _ABSENT.get(key)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table).on_conflict_do_nothing()
        stmt = _ABSENT[key] = stmt if returning is None else stmt.returning(returning)
    result = session.execute(stmt, values)
    return None if returning is None else result.scalar_one_or_none()


def already_processed(session: Session, message_id: str) -> Row[Any] | None:
    """The record of a message handled already (its `reply`), or None."""
    return session.execute(PROCESSED_GET, dict(message_id=message_id)).first()


def mark_processed(session: Session, message_id: str, subject: str, reply: str = "") -> None:
    session.execute(PROCESSED_INSERT, dict(message_id=message_id, subject=subject, reply=reply, processed_at=utcnow()))


def pending_outbox(
    session: Session, limit: int = 200, *, claim: bool = False, skip: Collection[int] = ()
) -> list[OutboxRow]:
    """The oldest rows not published yet. `claim` (PostgreSQL) locks them for this transaction and
    skips rows another relay holds (`FOR UPDATE SKIP LOCKED`): copies publish disjoint rows.
    `skip`: rows this relay published and has not marked yet."""
    stmt = (
        select(OutboxRow)
        .where(OutboxRow.published_at == None)  # noqa: E711
        .order_by(col(OutboxRow.id))
        .limit(limit)
    )
    if skip:
        stmt = stmt.where(col(OutboxRow.id).not_in(sorted(skip)))
    if claim:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.exec(stmt))


def in_order(
    session: Session, query: Any, order: Sequence[Any], limit: int | None, oldest_first: bool = False
) -> list[Any]:
    """The rows of `query` oldest first by `order`; with `limit`, only the newest that many (or the
    oldest, with `oldest_first`)."""
    if limit is None:
        return list(session.exec(query.order_by(*order)))
    if oldest_first:
        return list(session.exec(query.order_by(*order).limit(limit)))
    return list(session.exec(query.order_by(*(c.desc() for c in order)).limit(limit)))[::-1]
