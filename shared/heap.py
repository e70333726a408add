"""The interpreter's garbage collector: watched, and kept away from what lives long.

A full collection (generation 2) stops every thread of the process while it walks every object
the collector tracks. A service holds many that never die: the libraries' own (about 165,000 in
the matcher once SQLAlchemy, pydantic, FastStream and OR-Tools are imported) and its long-lived
structures (the matcher's copies of a country, `placement.Reference`: about 35,000 more). Walking
them is all a full collection does with them, and on this machine it cost 115 to 150 ms a time
(measured: a placement round of 100 requests took 0.35 s without it, 0.54 s with one), a pause
of every submission and decision in the process, whenever the young objects' count says so.

- `watch(registry)`: each collection's pause in a histogram
  (`expertshare_gc_pause_seconds{generation}`), and a log line (`gc_pause`) for one over
  `SLOW_S`: how often it happens and what it costs, seen from outside.
- `settle()`: once a service has started in its own process, what is alive then is moved out of
  the collector's sight (`gc.freeze`): a full collection walks only what came since; and the
  collector looks at young objects after `YOUNG` of them, not 700, so full collections come far
  less often. The collector is the process's: only a process's owner settles it
  (`shared.service.run`), never a service that shares its process with others (a test process
  builds hundreds: a full collection at each start, of a heap that grew with every one of them,
  paused it 0.8 s at a time, longer than a publish waits for its acknowledgement).
- `keep(build)`: a long-lived structure built, then frozen with the rest. Before the build, what
  was frozen goes back into the collector's sight (`gc.unfreeze`), so the structure it replaces
  (and any cycle in it) is collected like any garbage: nothing frozen leaks. In a process not
  settled, only the build: nothing was frozen, and nothing is.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from shared.metrics import PREFIX

log = structlog.get_logger("heap")
T = TypeVar("T")

#: Young objects (net of those freed) before the collector looks at them: 700 by default, which
#: with its other two thresholds (10, 10) made a full collection of the matcher every 1 to 2 s
#: while it decided a country's backlog (71 pauses of 50 to 350 ms in 3 minutes, even with the
#: copies frozen: its re-plan holds 10,000 requests' worth of objects for a minute). A young
#: collection walks at most this many (a few milliseconds); a full one comes a hundred of them later.
YOUNG = 20_000
#: A collection pausing the process longer than this is logged.
SLOW_S = 0.05
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


_PAUSES = Histogram(
    f"{PREFIX}_gc_pause_seconds",
    "Pauses of the whole process for the garbage collector, by generation",
    ["generation"],
    buckets=BUCKETS,
    registry=None,
)


class _Watch:
    """The one callback of this process: each pause observed once, into one histogram that every
    watching registry shows (a test process builds hundreds of services: observing into each of
    their histograms at every young collection slowed the whole suite)."""

    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause = time.perf_counter() - self.started
        generation = info.get("generation", 0)
        _PAUSES.labels(str(generation)).observe(pause)
        if pause > SLOW_S:
            log.info(
                "gc_pause",
                generation=generation,
                seconds=round(pause, 3),
                collected=info.get("collected", 0),
                frozen=gc.get_freeze_count(),
            )


class _Shown(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _PAUSES.collect()


_watch = _Watch()
_settled = False


def watch(registry: CollectorRegistry) -> None:
    """Time every collection of this process, shown in `registry`."""
    registry.register(_Shown())
    if _watch not in gc.callbacks:
        gc.callbacks.append(_watch)


def settle() -> None:
    """What is alive now lives on: out of the collector's sight (after one last collection); and
    the young collected less often (`YOUNG`). The process's owner calls it, once it has started."""
    global _settled
    _settled = True
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, older, oldest)


def keep(build: Callable[[], T]) -> T:
    """`build()` a structure that lives long (it replaces the one before it), and keep it, with
    everything else alive, out of the collector's sight (in a settled process)."""
    if not _settled:
        return build()
    gc.unfreeze()
    try:
        return build()
    finally:
        gc.collect()
        gc.freeze()
