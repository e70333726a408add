"""SQLite's writers in one process take the write lock in the order they came, handed over the
moment the writer before them ends (`shared.write_gate`).

Before, a writer that found the lock taken was left to SQLite's busy handler, which sleeps and
tries again (up to 100 ms at a time): a writer that came later could take the lock while an
earlier one slept. Under the notifier's stream of one-transaction events a proposal's
notification waited 0.3 to 0.8 s for a lock that was free most of the time; a probe writing
every 20 ms beside four busy writers waited 1.4 s at p99 (18 ms with the gate).

Each test holds one transaction, lets the others queue (seen on the gate, not guessed with a
sleep), then releases it. A writer that has waited `STARVING_S` is handed the lock next; the
tests that check the order make every waiter count as starving (0 s), so the order does not
depend on how fast the machine is."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from shared import write_gate
from shared.db import make_engine, reader, transaction
from shared.write_gate import WriteGate, gate_for

DEADLINE_S = 10.0


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.001)


@pytest.fixture
def in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write_gate, "STARVING_S", 0.0)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, WriteGate]]:
    path = tmp_path / "gated.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE done (who TEXT NOT NULL)")
    gate = gate_for(str(path))
    assert gate is not None
    yield engine, gate
    engine.dispose()


def write(engine: Engine, who: str) -> None:
    with transaction(engine) as session:
        session.exec(text("INSERT INTO done (who) VALUES (:who)").bindparams(who=who))


def order(engine: Engine) -> list[str]:
    with Session(reader(engine)) as session:
        return [row[0] for row in session.exec(text("SELECT who FROM done ORDER BY rowid"))]


def queue_behind(engine: Engine, gate: WriteGate, names: list[str]) -> list[threading.Thread]:
    """Start a writer per name, each after the one before is seen waiting at the gate."""
    threads = []
    for k, who in enumerate(names, start=1):
        t = threading.Thread(target=write, args=(engine, who))
        t.start()
        threads.append(t)
        until(lambda k=k: gate.waiting == k)
    return threads


@pytest.mark.usefixtures("in_order")
def test_waiting_writers_take_the_lock_in_the_order_they_came(db: tuple[Engine, WriteGate]) -> None:
    engine, gate = db
    with transaction(engine) as session:
        session.exec(text("INSERT INTO done (who) VALUES ('first')"))
        threads = queue_behind(engine, gate, ["b", "c", "d"])
    for t in threads:
        t.join(DEADLINE_S)
    assert order(engine) == ["first", "b", "c", "d"]


@pytest.mark.usefixtures("in_order")
def test_a_writer_that_comes_later_does_not_pass_one_that_waits(db: tuple[Engine, WriteGate]) -> None:
    """The holder commits and at once begins again: the writer that was waiting (long enough to
    count as starving) goes first. With SQLite's busy handler the holder won, the waiter asleep."""
    engine, gate = db
    with transaction(engine) as session:
        session.exec(text("INSERT INTO done (who) VALUES ('first')"))
        (waiter,) = queue_behind(engine, gate, ["waiter"])
    write(engine, "came later")
    waiter.join(DEADLINE_S)
    assert order(engine) == ["first", "waiter", "came later"]


def test_the_gate_is_given_back_however_a_transaction_ends(db: tuple[Engine, WriteGate]) -> None:
    engine, gate = db
    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.exec(text("INSERT INTO done (who) VALUES ('rolled back')"))
        raise RuntimeError("the use case failed")
    assert gate.acquire(0)  # free: the rollback gave it back
    gate.release()

    session = Session(engine)
    session.exec(text("INSERT INTO done (who) VALUES ('abandoned')"))
    session.close()  # closed mid-transaction: the pool's reset rolls back, and gives the gate back
    assert gate.acquire(0)
    gate.release()
    write(engine, "after")
    assert order(engine) == ["after"]


def test_a_reader_takes_no_gate(db: tuple[Engine, WriteGate]) -> None:
    engine, gate = db
    with transaction(engine) as session:
        session.exec(text("INSERT INTO done (who) VALUES ('writing')"))
        assert order(engine) == []  # read at once, its snapshot, while the gate is held
        assert gate.waiting == 0


def test_a_writer_that_waits_too_long_fails_as_sqlite_would(
    db: tuple[Engine, WriteGate], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, gate = db
    monkeypatch.setattr(write_gate, "WAIT_S", 0.05)
    assert gate.acquire(0)
    try:
        with pytest.raises(Exception, match="database is locked") as raised:
            write(engine, "too late")
        assert isinstance(raised.value.__cause__ or raised.value, sqlite3.OperationalError)
        assert gate.waiting == 0  # it left the queue
    finally:
        gate.release()
    write(engine, "in time")
    assert order(engine) == ["in time"]


def test_every_writer_gets_its_turn_when_many_compete(db: tuple[Engine, WriteGate]) -> None:
    """Woken to compete (not starving yet) or handed the lock (starving): no wake-up is lost, and
    every transaction of every writer is done."""
    engine, gate = db

    def many(who: str) -> None:
        for _ in range(50):
            write(engine, who)

    threads = [threading.Thread(target=many, args=(f"w{k}",)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S * 3)
    assert not any(t.is_alive() for t in threads)
    assert sorted(set(order(engine))) == [f"w{k}" for k in range(6)] and len(order(engine)) == 300
    assert gate.waiting == 0 and gate.acquire(0)
    gate.release()


def test_engines_on_one_file_share_its_gate(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    assert gate_for(str(path)) is gate_for(str(tmp_path / "." / "one.db"))
    assert gate_for(":memory:") is None
