"""Services that share a process (as every test does) leave its garbage collector alone.

The collector is the process's: `shared.service.run` settles it for the one service it runs
(`shared.heap.settle`). A service started in a process it does not own froze everything alive and
ran a full collection at each start; in a test process that built hundreds of services, each full
collection paused the whole process 0.8 s, longer than a dead letter's publish waits (0.5 s).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import heap
from tests.integration.services_harness import Stack, contract, expert


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int, int]]:
    gc.unfreeze()
    monkeypatch.setattr(heap, "_settled", False, raising=False)
    thresholds = gc.get_threshold()
    yield thresholds
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_services_in_a_shared_process_neither_freeze_nor_retune_the_collector(
    collector: tuple[int, int, int], stack: Stack
) -> None:
    # `collector` first: the thresholds are read before any service starts
    # started, and the matcher's copies built (a placement reads them through `heap.keep`)
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r1")
    await stack.proposal("r1")
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == collector
