"""Test session fixtures: a real nats-server on a free port, SQLite and (when asked) PostgreSQL.

Set EXPERTSHARE_TEST_PG to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
and every test using `db_url` also runs against a fresh PostgreSQL database.

The hour: set EXPERTSHARE_TEST_UTC=HH:MM to run the whole suite as if the clock read that UTC time
when it started (every service it starts reads the same clock, `shared.clock`). A test that counts
days takes the `utc_hour` fixture and runs twice, on either side of Vietnam's midnight, whatever
the hour of the machine.

NATS: every server runs with the real generated authorization; the identities are made once per
session in a temporary secrets directory (EXPERTSHARE_SECRETS_DIR, which the services the tests
start, in this process or as processes of their own, read their seeds from). The harnesses run the
admin's setup and sign their own clients in as the admin.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared import clock
from shared.logging import configure
from shared.nats import EmbeddedNats, free_port, start_nats
from shared.security.secrets import secrets_dir
from tests import people
from tests.integration.sinks import HttpSink, SmtpSink

PG = os.environ.get("EXPERTSHARE_TEST_PG", "")
DB_KINDS = ["sqlite", "postgresql"] if PG else ["sqlite"]
# 16:30 UTC is 23:30 in Vietnam, the same day as UTC; 23:30 UTC is 06:30 of the next day there.
EITHER_SIDE_OF_VIETNAM_MIDNIGHT = ("16:30", "23:30")


def _hour(text: str) -> tuple[int, int]:
    try:
        hour, minute = (int(x) for x in text.split(":"))
        dt.time(hour, minute)
    except ValueError as err:
        raise pytest.UsageError(f"an hour must be HH:MM (00:00 to 23:59), got {text!r}") from err
    return hour, minute


def pytest_configure(config: pytest.Config) -> None:
    # Log lines go to stderr, as in every service: unconfigured, structlog prints to stdout, where
    # a collection's `gc_pause` line (the process-wide watch a service started in a test sets)
    # landed in the CSV a CLI test was reading.
    configure("tests")
    people.setup()  # the session's secrets: a test issuer and the services' keys (tests.people)
    at = os.environ.get("EXPERTSHARE_TEST_UTC", "")
    if at:
        os.environ[clock.OFFSET_ENV] = str(clock.at_utc(*_hour(at)))


def pytest_unconfigure(config: pytest.Config) -> None:
    people.teardown()


@pytest.fixture(params=EITHER_SIDE_OF_VIETNAM_MIDNIGHT, ids=lambda h: f"{h.replace(':', 'h')}utc")
def utc_hour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Runs the test as if it were this UTC hour now (it keeps running from there), in this process
    and in every process the test starts. Returns the clock's reading."""
    monkeypatch.setenv(clock.OFFSET_ENV, str(clock.at_utc(*_hour(request.param))))
    return clock.utcnow()


@pytest.fixture(scope="session", autouse=True)
def nats_secrets() -> Path:
    """The session's secrets (`tests.people.setup`, at configure time): the NATS identities with the
    cluster routes' credentials and the test issuer, found through EXPERTSHARE_SECRETS_DIR."""
    return secrets_dir()


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
