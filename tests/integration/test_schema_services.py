"""Every service's schema comes from its Alembic migrations, under a lock, on SQLite and PostgreSQL.

- The migrated schema is exactly the models' (Alembic's autogenerate comparison, types included),
  and a second start changes nothing.
- Two copies starting at once on a new database both succeed: the first is held at its first
  CREATE TABLE while the second starts; the second waits for the lock, then finds the schema made.
  (Before, on PostgreSQL, the second copy also saw no tables, and its CREATE TABLE failed once the
  first committed.)
- A database made by the previous version (`create_all`, no version table) keeps its rows: it is
  stamped at the baseline and upgraded.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, event, text
from sqlmodel import Session, SQLModel

from services.contracts import db as contracts_db
from services.contracts import migrate as contracts_migrate
from services.matcher import db as matcher_db
from services.matcher import migrate as matcher_migrate
from services.notifier import db as notifier_db
from services.notifier import migrate as notifier_migrate
from services.portal import migrate as portal_migrate
from services.portal import users as portal_users
from shared.db import SHARED_TABLES, make_engine
from tests.integration.race import wait_until, waiting_for_a_lock


@dataclass(frozen=True)
class Schema:
    migrate: ModuleType
    create_schema: Callable[[Engine], None]
    metadata: Callable[[], MetaData]
    # What the previous version ran at start (`shared.db.create_tables`, the portal's own create_all).
    previous_tables: list[Any]
    row: Callable[[], SQLModel] | None = None  # a row of the previous version's data


def without_pending_index(tables: list[Any]) -> list[Any]:
    """Tables as a version before the outbox's index of rows still to publish made them."""
    md = MetaData()
    copies = [t.to_metadata(md) for t in tables]
    for t in copies:
        for index in [i for i in t.indexes if i.name == "ix_outbox_pending"]:
            t.indexes.discard(index)
    return copies


def matcher_before_0002() -> list[Any]:
    """The matcher's tables as the version before migrations made them (its baseline, 0001): no
    one-live-proposal-per-slot index, no plan_run.overcommitted, no planner's fence (0003), no
    proposal trainee (0004)."""
    md = MetaData()
    tables = [
        t.to_metadata(md) for t in (*SHARED_TABLES, *matcher_db.TABLES) if t.name not in ("leader_fence", "change_mark")
    ]
    for t in tables:
        for index in [i for i in t.indexes if i.name in ("uq_proposal_live_slot", "ix_outbox_pending")]:
            t.indexes.discard(index)
        for name in ("overcommitted", "trainee_id", "trainee_minutes"):
            if name in t.c:
                t._columns.remove(t.c[name])
    return tables


def portal_before_0002() -> list[Any]:
    """The portal's tables as the version before migrations made them (its baseline, 0001): no
    sessions on the server, no disabled users, no address of a failed sign-in."""
    md = MetaData()
    tables = [t.to_metadata(md) for t in portal_users.TABLES if t.name != "portal_session"]
    for t in tables:
        for index in [i for i in t.indexes if i.name == "ix_portal_sign_in_failure_address"]:
            t.indexes.discard(index)
        for name in ("disabled", "address"):
            if name in t.c:
                t._columns.remove(t.c[name])
    return tables


SCHEMAS = {
    "contracts": Schema(contracts_migrate, contracts_db.create_schema, contracts_db.metadata, []),
    "matcher": Schema(
        matcher_migrate,
        matcher_db.create_schema,
        matcher_db.metadata,
        matcher_before_0002(),
        lambda: matcher_db.RequestRow(id="r1", unit_id="w2269", record={"title": "Máy in"}, status="open"),
    ),
    "notifier": Schema(
        notifier_migrate,
        notifier_db.create_schema,
        notifier_db.metadata,
        without_pending_index([*SHARED_TABLES, *notifier_db.TABLES]),
        lambda: notifier_db.Party(id="expert:e1", name="Nguyễn Văn An", language="vi"),
    ),
    "portal": Schema(
        portal_migrate,
        portal_users.create_schema,
        portal_users.metadata,
        portal_before_0002(),
        lambda: portal_users.User(username="admin", display_name="Admin", role="admin", password_hash="h"),
    ),
}
PREVIOUS = ["matcher", "notifier", "portal"]  # contracts: test_contracts_schema adopts its 0001 database


def _data(row: SQLModel) -> dict[str, Any]:
    """A row's fields but its timestamps (SQLite gives them back without their time zone)."""
    return {k: v for k, v in row.model_dump().items() if not isinstance(v, dt.datetime)}


def _diff(schema: Schema, engine: Engine) -> list[Any]:
    return schema.migrate.MIGRATIONS.diff(engine, schema.metadata())


@pytest.mark.parametrize("service", list(SCHEMAS))
def test_the_migrated_schema_matches_the_models(service: str, db_url: str) -> None:
    schema, engine = SCHEMAS[service], make_engine(db_url)
    schema.create_schema(engine)
    assert schema.migrate.current(engine) == schema.migrate.MIGRATIONS.head()
    assert _diff(schema, engine) == []
    schema.create_schema(engine)  # a second start changes nothing
    assert schema.migrate.current(engine) == schema.migrate.MIGRATIONS.head() and _diff(schema, engine) == []
    engine.dispose()


class HeldAtFirstCreate:
    """Holds a copy at its first CREATE TABLE (it has looked and found no schema) until released."""

    def __init__(self, engine: Engine) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE") and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(60), "never released"


class Starting(threading.Thread):
    """One copy of a service starting: its schema step, in a thread of its own, on its own engine."""

    def __init__(self, schema: Schema, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.schema, self.engine, self.error = schema, engine, None  # type: ignore[var-annotated]

    def run(self) -> None:
        try:
            self.schema.create_schema(self.engine)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def _waits_for_a_lock(engine: Engine) -> bool:
    """Whether the second copy is blocked on a lock: on PostgreSQL, a backend of this database
    waiting on one (the advisory lock now, a table's catalog row before); on SQLite, a writer of
    this process queued at the file's gate for the write lock."""
    return waiting_for_a_lock(engine)


@pytest.mark.parametrize("service", list(SCHEMAS))
def test_two_copies_starting_at_once_on_a_new_database_both_succeed(service: str, db_url: str) -> None:
    schema = SCHEMAS[service]
    first, second = Starting(schema, make_engine(db_url)), Starting(schema, make_engine(db_url))
    hold = HeldAtFirstCreate(first.engine)
    first.start()
    assert hold.reached.wait(30), first.error
    second.start()
    watcher = make_engine(db_url)
    wait_until(lambda: _waits_for_a_lock(watcher) or not second.is_alive(), "the second copy to wait")
    hold.release.set()
    first.join(60)
    second.join(60)
    assert (first.error, second.error) == (None, None)
    assert schema.migrate.current(watcher) == schema.migrate.MIGRATIONS.head() and _diff(schema, watcher) == []
    for engine in (first.engine, second.engine, watcher):
        engine.dispose()


@pytest.mark.parametrize("service", PREVIOUS)
def test_a_database_of_the_previous_version_keeps_its_rows(service: str, db_url: str) -> None:
    schema, engine = SCHEMAS[service], make_engine(db_url)
    schema.previous_tables[0].metadata.create_all(engine, tables=schema.previous_tables)  # the previous version
    assert schema.row is not None
    row = schema.row()
    table = next(t for t in schema.previous_tables if t.name == row.__tablename__)
    with engine.begin() as c:  # written as the previous version would: its columns only
        c.execute(table.insert().values({k: v for k, v in row.model_dump().items() if k in table.c}))
    key = row.__mapper__.primary_key_from_instance(row)  # type: ignore[attr-defined]
    assert schema.migrate.current(engine) is None
    schema.create_schema(engine)
    assert schema.migrate.current(engine) == schema.migrate.MIGRATIONS.head() and _diff(schema, engine) == []
    with Session(engine) as s:
        kept = s.get(type(row), key)
        assert kept is not None and _data(kept) == _data(row)
    engine.dispose()


def test_a_database_older_than_the_baseline_is_refused_unchanged(db_url: str) -> None:
    engine = make_engine(db_url)
    older = [t for t in SCHEMAS["matcher"].previous_tables if t.name not in ("request", "plan_run")]
    SQLModel.metadata.create_all(engine, tables=older)
    with engine.begin() as c:  # `request` before it had a correlation id
        c.execute(
            text(
                "CREATE TABLE request (id VARCHAR(64) PRIMARY KEY, unit_id VARCHAR(64) NOT NULL, "
                "record JSON NOT NULL, status VARCHAR(20) NOT NULL, reason_code VARCHAR NOT NULL, "
                "reason VARCHAR NOT NULL, submitted_by VARCHAR NOT NULL, submitted_at TIMESTAMP NOT NULL)"
            )
        )
        c.execute(text("INSERT INTO request VALUES ('r1', 'w1', '{}', 'open', '', '', 'u', CURRENT_TIMESTAMP)"))
    with pytest.raises(
        RuntimeError,
        match=r"matcher database: .* older than the baseline 0001, it lacks "
        r"table plan_run, request\.correlation_id\.",
    ):
        matcher_db.create_schema(engine)
    assert matcher_migrate.current(engine) is None
    with engine.begin() as c:
        assert c.execute(text("SELECT id FROM request")).scalar() == "r1"
    engine.dispose()
