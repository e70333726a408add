"""The background re-plan's engine run, in a process of its own.

A country's re-plan solves for up to a minute on both cores. In the service's own process that
would hold the interpreter away from the event loop and from the placement of new requests
(which must answer in milliseconds); in a child process at a lower priority (`nice`), the
operating system gives the service the cores first whenever it has work.

The child is a plain subprocess (`python -m services.matcher.solving`), started once and reused:
one pickled call in on its stdin, one pickled result out on its stdout, each behind its length.
No multiprocessing machinery (its resource tracker outlives a killed service and writes into
the service's log); the child's own output goes nowhere, it ends when the service does (even one
killed outright), and one that dies or overruns its time is killed and started again on the next
plan.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any

import structlog

from services.matcher.solver import MAX_REPLAN_S, Plan, solve
from shared.scenario import Scenario

log = structlog.get_logger("solving")

#: Beyond its time limit, what a run may take (reading its input, the report, the answer back)
#: before it is killed.
GRACE_S = 60.0
_LENGTH = struct.Struct("!Q")


class SolverLost(RuntimeError):
    """The child died or overran its time: this plan is lost, the next starts a new child."""


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed mid-message")
    return pickle.loads(data)  # noqa: S301 - our own child process, over its own pipe


class SolverProcess:
    """`solve` with the same arguments, run in the child (called from a worker thread, one call
    at a time)."""

    def __init__(self, nice: int = 10) -> None:
        self.nice = nice
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-m", "services.matcher.solving", str(os.getpid()), str(self.nice)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._proc

    def __call__(self, sc: Scenario, *, time_limit_s: float | None, workers: int, seed: int, **kw: Any) -> Plan:
        with self._lock:
            proc = self._child()
            assert proc.stdin is not None and proc.stdout is not None
            timer = threading.Timer((time_limit_s or MAX_REPLAN_S) + GRACE_S, proc.kill)
            timer.start()
            try:
                _send(proc.stdin, (sc, dict(time_limit_s=time_limit_s, workers=workers, seed=seed, **kw)))
                ok, result = _receive(proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as err:
                if self._closed:  # the service is stopping: the run was abandoned on purpose
                    raise SolverLost("the service stopped") from None
                log.error("solver_process_lost", error=f"{type(err).__name__}: {err}", code=proc.poll())
                self._stop(proc)
                raise SolverLost(f"the solver process ended: {err}") from None
            finally:
                timer.cancel()
        if not ok:
            raise RuntimeError(f"the solver failed: {result}")
        return result

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if self._proc is proc:
            self._proc = None

    def close(self) -> None:
        """Stop the child at once (a run in progress is abandoned: its plan would be stale)."""
        self._closed = True
        proc = self._proc
        if proc is not None:
            self._stop(proc)


def _serve(parent: int, nice: int) -> None:
    """The child: calls in on stdin, answers on stdout, until the service closes the pipe or dies."""
    with contextlib.suppress(OSError):  # not permitted here: still isolated, only not deprioritised
        os.nice(nice)

    def orphaned() -> None:  # a service killed outright leaves no solver behind holding a core
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=orphaned, name="orphaned", daemon=True).start()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    while True:
        try:
            sc, kw = _receive(source)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, solve(sc, **kw))
        except Exception as err:  # noqa: BLE001 - told to the service, which logs it
            answer = (False, f"{type(err).__name__}: {err}")
        _send(sink, answer)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
