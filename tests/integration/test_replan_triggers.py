"""What wakes the leader: every committed change, the cancel command's included, and a wake-up from
a worker thread reaches the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.matcher import app as matcher_app
from services.matcher.app import Replanner
from services.matcher.db import create_schema
from services.matcher.settings import MatcherSettings
from shared import messages as m
from shared import subjects as s
from shared.nats import free_port, start_nats
from shared.service import Service
from tests.integration.services_harness import Stack, contract, expert, request_status


async def test_a_mark_from_a_worker_thread_wakes_the_loop_in_its_own_thread(tmp_path: Path) -> None:
    """Use cases run in worker threads; asyncio.Event.set() there is not thread-safe (its waiter
    may never wake). `mark` hands the wake-up to the loop's thread."""
    st = MatcherSettings(nats_url="nats://127.0.0.1:1", database_url=f"sqlite:///{tmp_path / 'm.db'}")
    planner = Replanner(Service(st, events=matcher_app.EVENTS, create_schema=create_schema), st)
    planner._loop = asyncio.get_running_loop()
    woke_in: list[int] = []
    real = planner._set

    def recording() -> None:
        woke_in.append(threading.get_ident())
        real()

    planner._set = recording  # type: ignore[method-assign]
    await asyncio.to_thread(planner.mark, m.Message())
    await asyncio.wait_for(planner.waiting.wait(), timeout=10)
    assert woke_in == [threading.get_ident()] and planner.dirty.is_set()


@pytest.fixture
async def quiet_stack(tmp_path: Path, db_url: str) -> AsyncIterator[Stack]:
    """The stack with the leader's poll of the change counter out of the way: only `mark` wakes it."""
    server = start_nats(tmp_path / "nats", free_port())
    try:
        stack = Stack(server.url, db_url, tmp_path)
        planner = next(start.__self__ for start in stack.matcher._background)  # type: ignore[attr-defined]
        planner.settings = planner.settings.model_copy(update={"change_poll_s": 600})
        async with stack as running:
            yield running
    finally:
        server.stop()


async def test_a_cancel_wakes_the_leader_and_frees_its_expert_for_the_unmatched_request(
    quiet_stack: Stack,
) -> None:
    stack = quiet_stack
    await stack.register([expert(0, capacity_hours=4)], [contract(0)])
    await stack.submit("r1", priority=5)
    await stack.proposal("r1")
    await stack.submit("r2", priority=2)
    await stack.until(lambda st: request_status(st, "r2") == "unmatched", what="r2 unmatched")
    planner = next(start.__self__ for start in stack.matcher._background)  # type: ignore[attr-defined]
    marked: list[type] = []
    mark = planner.mark
    planner.mark = lambda cause: (marked.append(type(cause)), mark(cause))  # type: ignore[method-assign]
    await stack.ok(s.REQUEST_CANCEL, m.CancelRequest(request_id="r1", by="staff", reason="solved by phone"))
    # The command itself woke the leader (before its reply), not only an event that may follow it.
    assert m.CancelRequest in marked
    await stack.proposal("r2")
