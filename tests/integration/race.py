"""Deterministic races: the first writer is held at the point that matters, the second is let run
until it is done or waits for the first's lock, then the first is released.

On PostgreSQL "waits for a lock" is read from `pg_stat_activity`; SQLite lets one writer in at a
time, and a process's writers queue at the database file's gate (`shared.write_gate`), where the
second is seen waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from shared.bus import Rejected
from shared.write_gate import gate_for


class Hold:
    """Holds the first caller of `module.name` (before it runs) until `release`; later callers pass."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        original = getattr(module, name)
        claimed = threading.Lock()

        def held(*args: Any, **kwargs: Any) -> Any:
            if claimed.acquire(blocking=False):
                self.reached.set()
                assert self.release.wait(30), "never released"
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, held)


def waiting_for_a_lock(engine: Engine) -> bool:
    if engine.dialect.name == "sqlite":
        gate = gate_for(engine.url.database or "")
        return gate is not None and gate.waiting > 0
    with engine.connect() as c:
        n = c.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(n)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def race(engine: Engine, hold: Hold, first: Callable[[], Any], second: Callable[[], Any]) -> dict[str, Any]:
    """`first` runs up to the hold; `second` runs until done or blocked by `first`; `first` is
    released. Returns each one's result, or the `Rejected` it raised."""
    results: dict[str, Any] = {}

    def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except Rejected as err:
            results[name] = err
        except Exception as err:  # noqa: BLE001 - reported by the assertions below
            results[name] = err

    one = threading.Thread(target=run, args=("first", first))
    one.start()
    assert hold.reached.wait(30), "the first writer never reached the hold"
    two = threading.Thread(target=run, args=("second", second))
    two.start()
    wait_until(lambda: not two.is_alive() or waiting_for_a_lock(engine), "the second writer to finish or wait")
    hold.release.set()
    one.join(30)
    two.join(30)
    assert not one.is_alive() and not two.is_alive()
    return results
