"""Test session fixtures: a real nats-server on a free port, SQLite and (when asked) PostgreSQL.

Set EXPERTSHARE_TEST_PG to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
and every test using `db_url` also runs against a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared.nats import EmbeddedNats, free_port, start_nats
from tests.integration.sinks import HttpSink, SmtpSink

PG = os.environ.get("EXPERTSHARE_TEST_PG", "")
DB_KINDS = ["sqlite", "postgresql"] if PG else ["sqlite"]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = start_nats(tmp_path_factory.mktemp("nats"), free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


def _fresh_pg_database() -> tuple[str, str]:
    name = f"es_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and a PostgreSQL database when EXPERTSHARE_TEST_PG is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name, url = _fresh_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def nats_fresh(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own (for tests that restart or fill it)."""
    server = start_nats(tmp_path / "nats", free_port())
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that keeps what it receives."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def http() -> Iterator[HttpSink]:
    """A real HTTP server on loopback that keeps what it receives."""
    sink = HttpSink().start()
    yield sink
    sink.stop()
