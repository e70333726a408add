"""SQLite's writers in one process, woken as the lock is let go, and none passed for ever.

SQLite lets one transaction write at a time. A writer that finds the lock taken is left to
SQLite's busy handler, which does not wait for the lock to be released: it sleeps and tries again,
1, 2, 5, 10 ... then 100 ms at a time, and whoever tries at the right moment wins. Under a
steady stream of short writes (a notifier's consumers, each event one transaction) a writer that
has waited longest sleeps longest, and its message waits behind writers that came after it: the
notifier's proposals were told 0.3 to 0.8 s late with the lock free most of the time.

So every write transaction of this process on one database file first takes that file's
`WriteGate`: a waiter is woken the moment the writer before it commits or rolls back, and one
that has waited more than `STARVING_S` is handed the gate before any writer that came later.
`BEGIN IMMEDIATE` then finds the lock free unless another process holds it (a second copy of a
service on the same file, a migration), for which SQLite's busy timeout still applies. Readers
(`shared.db.reader`) take no gate: in WAL they read their snapshot.

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
import time
from typing import Any

#: As SQLite's busy timeout: a writer that waits longer fails as SQLite's own would, never hangs.
WAIT_S = 30.0
#: A writer that has waited this long is handed the lock next (`WriteGate`).
STARVING_S = 0.01


class _Waiter:
    __slots__ = ("handed", "since", "turn")

    def __init__(self) -> None:
        self.turn, self.since, self.handed = threading.Event(), time.monotonic(), False


class WriteGate:
    """A lock with a queue, in two modes as Go's `sync.Mutex`: a writer that has waited less than
    `STARVING_S` competes for the lock with the writer that just let go of it, which keeps the
    database working when the machine is busy (a lock handed to a thread that is not running
    stays idle until it runs: half the commits a second beside CPU hogs); one that has waited
    longer is handed the lock before anyone else, so no writer is passed for ever."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: collections.deque[_Waiter] = collections.deque()

    @property
    def waiting(self) -> int:
        with self._mutex:
            return len(self._waiters)

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            me = _Waiter()
            self._waiters.append(me)
        deadline = me.since + timeout
        while True:
            woken = me.turn.wait(max(0.0, deadline - time.monotonic()))
            with self._mutex:
                if me.handed:
                    return True
                if not self._held:  # woken to compete, and it is free: ours
                    self._held = True
                    self._waiters.remove(me)
                    return True
                if not woken:
                    self._waiters.remove(me)
                    return False
                me.turn.clear()  # another took it first: wait again, still first in line

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                first = self._waiters[0]
                if time.monotonic() - first.since >= STARVING_S:
                    self._waiters.popleft()
                    first.handed = True  # still held: now by the writer that waited longest
                    first.turn.set()
                    return
                first.turn.set()
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
