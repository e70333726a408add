"""The background re-plan's engine run, in a process of its own.

A country's re-plan solves for up to a minute on both cores. In the service's own process that
would hold the interpreter away from the event loop and from the placement of new requests
(which must answer in milliseconds); in a child process at a lower priority (`nice`), the
operating system gives the service the cores first whenever it has work. The child is started
once and reused; one that dies or overruns its time is killed and started again on the next plan.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import threading
import time
from typing import Any

import structlog

from services.matcher.solver import Plan, solve
from shared.scenario import Scenario

log = structlog.get_logger("solving")

#: Beyond its time limit, what a run may take (the report, the pickling back) before it is killed.
GRACE_S = 60.0


def _child(nice: int, parent: int) -> None:
    """In the child, once: a lower priority; no hold on the service's output (its supervisor reads
    that pipe to the end to learn that the service died); and an end with the service: a service
    killed outright (SIGKILL) leaves no solver behind, still holding a core."""
    with contextlib.suppress(OSError):  # not permitted here: still isolated, only not deprioritised
        os.nice(nice)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=orphaned, name="orphaned", daemon=True).start()


class SolverProcess:
    """`solve` with the same arguments, run in a child process (called from a worker thread)."""

    def __init__(self, nice: int = 10) -> None:
        self.nice = nice
        self._pool: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: the service's process has threads (the event loop's, NATS'); a fork of it
                # could inherit a lock held by one of them.
                self._pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_child, initargs=(self.nice, os.getpid()))
            return self._pool

    def __call__(self, sc: Scenario, *, time_limit_s: float, workers: int, seed: int, **kw: Any) -> Plan:
        future = self._executor().submit(solve, sc, time_limit_s=time_limit_s, workers=workers, seed=seed, **kw)
        try:
            return future.result(timeout=time_limit_s + GRACE_S)
        except (cf.process.BrokenProcessPool, cf.TimeoutError) as err:
            log.error("solver_process_lost", error=f"{type(err).__name__}: {err}")
            self.close()
            raise

    def close(self) -> None:
        """Stop the child at once (a run in progress is abandoned: its plan would be stale)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
