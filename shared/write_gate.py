"""SQLite's writers in one process, queued first come first served.

SQLite lets one transaction write at a time. A writer that finds the lock taken is left to
SQLite's busy handler, which does not wait for the lock to be released: it sleeps and tries again,
1, 2, 5, 10 ... then 100 ms at a time, and whoever tries at the right moment wins. Under a
steady stream of short writes (a notifier's consumers, each event one transaction) a writer that
has waited longest sleeps longest, and its message waits behind writers that came after it: the
notifier's proposals were told 0.3 to 0.8 s late with the lock free most of the time.

So every write transaction of this process on one database file first takes that file's
`WriteGate`: a waiter is handed the gate the moment the writer before it commits or rolls back,
in the order they came. `BEGIN IMMEDIATE` then finds the lock free unless another process holds
it (a second copy of a service on the same file, a migration), for which SQLite's busy timeout
still applies. Readers (`shared.db.reader`) take no gate: in WAL they read their snapshot.

The gate is taken where the write transaction begins and given back by the DB-API connection's
own `commit`, `rollback` or `close` (`GatedConnection`, SQLite's connection factory), so every way
SQLAlchemy ends a transaction, a pool's reset of a connection returned mid-transaction included,
releases it.
"""

from __future__ import annotations

import collections
import os
import sqlite3
import threading
from typing import Any

#: As SQLite's busy timeout: a writer that waits longer fails as SQLite's own would, never hangs.
WAIT_S = 30.0


class WriteGate:
    """A lock handed from one holder to the next waiter in arrival order (no barging)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: collections.deque[threading.Event] = collections.deque()

    @property
    def waiting(self) -> int:
        with self._mutex:
            return len(self._waiters)

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over between the timeout and here: it is ours
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # still held: now by the next in line
            else:
                self._held = False


_gates: dict[str, WriteGate] = {}
_gates_mutex = threading.Lock()


def gate_for(database: str) -> WriteGate | None:
    """The gate of one database file (shared by every engine of this process on it); none for an
    in-memory database, which no other connection can write."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    key = os.path.realpath(database.removeprefix("file:").split("?", 1)[0])
    with _gates_mutex:
        return _gates.setdefault(key, WriteGate())


class GatedConnection(sqlite3.Connection):
    """SQLite's connection that holds its file's gate from `begin_write` to the end of the
    transaction, however it ends."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._gate = gate_for(os.fsdecode(database) if isinstance(database, str | bytes | os.PathLike) else "")
        self._holding = False

    def begin_write(self) -> None:
        """`BEGIN IMMEDIATE`, after the writers of this process that came first."""
        if self._gate is not None and not self._holding:
            if not self._gate.acquire(WAIT_S):
                raise sqlite3.OperationalError("database is locked (waited for this process's other writers)")
            self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def _let_go(self) -> None:
        if self._holding:
            self._holding = False
            assert self._gate is not None
            self._gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()
