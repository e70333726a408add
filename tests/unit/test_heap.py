"""The garbage collector watched, and long-lived structures kept out of its walks (`shared.heap`)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from shared import heap


@pytest.fixture(autouse=True)
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    thresholds = gc.get_threshold()
    monkeypatch.setattr(heap, "_settled", False)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_every_collection_is_timed_by_generation() -> None:
    registry = CollectorRegistry()
    heap.watch(registry)
    before = registry.get_sample_value("expertshare_gc_pause_seconds_count", {"generation": "2"}) or 0
    gc.collect()
    assert registry.get_sample_value("expertshare_gc_pause_seconds_count", {"generation": "2"}) == before + 1
    assert gc.callbacks.count(heap._watch) == 1
    heap.watch(CollectorRegistry())  # a second service in the process: still one callback
    assert gc.callbacks.count(heap._watch) == 1


def test_what_is_kept_is_out_of_the_collectors_walks() -> None:
    heap.settle()
    kept = heap.keep(lambda: [Node() for _ in range(1000)])
    assert gc.get_freeze_count() >= 1000
    assert not any(o is kept[0] for o in gc.get_objects())  # the frozen are in no generation


def test_the_structure_replaced_is_collected_not_leaked() -> None:
    heap.settle()
    first = heap.keep(Node)
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is not None, "frozen: a cycle is not collected while frozen"
    heap.keep(Node)  # the next build unfreezes first: the old cycle is garbage like any other
    assert gone() is None


def test_a_settled_service_collects_its_young_less_often() -> None:
    gc.set_threshold(700, 10, 10)
    heap.settle()
    assert gc.get_threshold() == (heap.YOUNG, 10, 10)
    assert gc.get_freeze_count() > 0


def test_a_process_not_settled_is_left_to_its_collector() -> None:
    """A service sharing its process (a test's, with hundreds of others) does not take charge of
    the collector: its long-lived copies are built, and nothing is frozen or collected for them."""
    gc.unfreeze()
    kept = heap.keep(lambda: [Node() for _ in range(1000)])
    assert gc.get_freeze_count() == 0
    assert any(o is kept[0] for o in gc.get_objects())
