"""`expertshare load` against a stand-in for the running system: what it sends, in what order,
how much at once, and what its progress bar counts (answers, never sends)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cli import load as loader
from cli.client import ClientError
from scenarios.generate import generate
from shared import messages as m
from shared import subjects as s
from shared.endpoints import Endpoint
from shared.scenario import Scenario


class FakeSystem:
    """Answers like the services would. The matcher's copies appear as `copied` says; bulk
    submissions wait for `release` (held at the point that matters: the answer)."""

    def __init__(self, sc: Scenario, copied: dict[str, int] | None = None) -> None:
        self.sc = sc
        self.copied = (
            copied
            if copied is not None
            else {"units": len(sc.units), "experts": len(sc.experts), "contracts": len(sc.contracts)}
        )
        self.sent: list[tuple[str, m.Message]] = []
        self.release = asyncio.Event()
        self.in_flight = self.most_in_flight = 0
        self.full, self.full_at = asyncio.Event(), loader.WINDOW

    async def ask(self, endpoint: Endpoint[Any, Any], message: Any, *, timeout: float | None = None) -> Any:
        """A typed reply, as `Client.ask` gives it: the data `ok` answers, read as the endpoint's model."""
        return endpoint.reply.model_validate(await self.ok(endpoint.subject, message, timeout=timeout))

    async def ok(self, subject: str, message: Any, *, timeout: float | None = None) -> dict[str, Any]:
        self.sent.append((subject, message))
        if subject == s.MATCHER_STATUS_GET:
            assert message.limit == 1, "the loader asks the narrowest status question"
            return {"counts": {**self.copied, "requests": 0}, "requests": [], "proposals": []}
        if subject == s.REQUESTS_SUBMIT:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if self.in_flight >= self.full_at:
                self.full.set()
            await self.release.wait()
            self.in_flight -= 1
            taken = sum(1 for r in message.requests if r.unit != "nowhere")
            return {
                "taken": taken,
                "refused": len(message.requests) - taken,
                "results": [
                    {"id": r.id, "ok": True, "status": "open"}
                    if r.unit != "nowhere"
                    else {"id": r.id, "ok": False, "error": "unknown unit", "field": "requests[0].unit"}
                    for r in message.requests
                ],
            }
        if subject == s.REFERENCE_REGISTER:
            return {
                "units": len(message.units),
                "experts": len(message.experts),
                "contracts": len(message.contracts),
                "travel_minutes": len(message.travel_minutes),
            }
        raise AssertionError(f"the loader asked {subject}, which this fake does not answer")


def scenario(n_requests: int = 600, n_experts: int = 30) -> Scenario:
    return generate(n_requests, n_experts, seed=3, provinces=[8])


class Bar:
    def __init__(self) -> None:
        self.done = 0
        self.stages: list[str] = []

    def __call__(self, advance: int, stage: str | None = None) -> None:
        self.done += advance
        if stage:
            self.stages.append(stage)


async def test_progress_counts_answers_not_sends_and_requests_go_in_a_bounded_window() -> None:
    sc = scenario(1500)  # 6 batches for a window of 4
    system, bar = FakeSystem(sc), Bar()
    loading = asyncio.create_task(loader.load(system, sc, bar))  # type: ignore[arg-type]
    reference = 2 * (len(sc.units) + len(sc.experts) + len(sc.contracts))
    system.full_at = min(loader.WINDOW, -(-len(sc.requests) // loader.BATCH))
    await asyncio.wait_for(system.full.wait(), 30)  # every batch the window allows is sent, none answered
    assert bar.done == reference, "requests sent but not answered are not progress"
    for _ in range(20):  # every other task runs a few steps: a fifth batch would be out by now
        await asyncio.sleep(0)
    assert system.most_in_flight == loader.WINDOW
    system.release.set()
    result = await loading
    assert bar.done == loader.total_steps(sc) and result["requests"] == len(sc.requests)
    assert bar.stages[-1] == "submitting requests"
    batches = [msg for subject, msg in system.sent if subject == s.REQUESTS_SUBMIT]
    assert len(batches) == -(-len(sc.requests) // loader.BATCH)
    assert [r.id for b in batches for r in b.requests] == [r.id for r in sc.requests]


async def test_a_repeated_load_sends_the_same_message_ids() -> None:
    """Its commands are answered from what the services remember: a repeated load is a no-op."""
    sc = scenario(300)

    async def ids() -> list[str]:
        system = FakeSystem(sc)
        system.release.set()
        await loader.load(system, sc, Bar())  # type: ignore[arg-type]
        return [msg.event_id for subject, msg in system.sent if subject != s.MATCHER_STATUS_GET]

    first = await ids()
    assert first == await ids() and len(set(first)) == len(first)


async def test_a_refused_request_is_named_with_its_row_and_field() -> None:
    sc = scenario(300)
    bad = sc.requests[260].model_copy(update={"unit": "nowhere"})
    sc = sc.model_copy(update={"requests": [*sc.requests[:260], bad, *sc.requests[261:]]})
    system = FakeSystem(sc)
    system.release.set()
    result = await loader.load(system, sc, Bar())  # type: ignore[arg-type]
    assert result["requests"] == len(sc.requests) - 1
    assert result["refused"] == [f"requests[260] ({bad.id}): requests[0].unit: unknown unit"]


async def test_waiting_for_the_matcher_needs_its_experts_too_and_names_what_is_missing() -> None:
    """The matcher has every unit and contract but not every expert: the requests must wait (a
    contract whose expert is not copied yet plans nothing), and a timeout says what is missing."""
    sc = scenario(30, n_experts=20)
    system = FakeSystem(sc, copied={"units": len(sc.units), "experts": 14, "contracts": len(sc.contracts)})
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    with pytest.raises(ClientError, match=r"experts: 14 of 20") as err:
        await loader.wait_for_matcher(system, sc, timeout=30, poll_s=0, clock=clock)  # type: ignore[arg-type]
    assert "units" not in str(err.value) and "contracts" not in str(err.value)
