"""Password work (argon2: tens of milliseconds of CPU and 64 MB each) off the event loop, a few
at a time.

On the event loop, one sign-in stalls every other request for as long as its hash takes, and
thirty failed sign-ins stall a static file for seconds. Here each hash (with the database work
around it) runs in a worker thread; at most `concurrency` run at once (argon2 releases the GIL,
so that many cores are used and no more), at most `queue` callers wait for a turn, and any more
are refused at once (`Busy`: 503 with Retry-After) instead of piling up memory and latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


class Busy(Exception):
    """Too many password checks are waiting already: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-ins at once; try again in {retry_after} s")
        self.retry_after = retry_after


class PasswordWork:
    def __init__(self, concurrency: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency, self._queue = concurrency, queue
        self._inside = 0  # running or waiting

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self._inside >= self._concurrency + self._queue:
            raise Busy(retry_after=1 + self._inside // self._concurrency // 10)
        self._inside += 1
        try:
            async with self._slots:
                return await anyio.to_thread.run_sync(fn, *args)
        finally:
            self._inside -= 1
