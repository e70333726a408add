"""Garbage on every subject a service listens to: it keeps running and working, each bad message
lands in the dead-letter subject once, with a reason, and is never redelivered; a command's or a
query's caller gets a clear error at once.

The subjects are read from each service's composition root (every subscriber it registers), so
a subject added to a service is covered without touching this test.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from cli.asyncapi import listened_subjects
from shared import messages as m
from shared import subjects as s
from tests.e2e import flow
from tests.e2e.system import SERVICES, System

pytestmark = pytest.mark.slow

GARBAGE = [
    b"",  # nothing
    b"not json at all",
    b"\xff\xfe\x00\x01",  # not even UTF-8
    b"[1, 2, 3]",  # JSON, not an object
    b'{"event_id": 42, "correlation_id": null, "unexpected": true}',  # an object of the wrong shape
    b'{"event_id": "' + b"x" * 500 + b'"}',  # a field beyond its limit
]


def test_every_service_listens_to_its_commands_queries_and_events() -> None:
    for service in SERVICES:
        listened = dict(listened_subjects(service))
        assert listened.get(s.health(service)) is False, f"{service} has no health query"
        assert any(listened.values()), f"{service} consumes no events"
        assert all(subj.split(".")[0] == service for subj, is_js in listened.items() if not is_js), (
            f"{service} answers requests on another service's subjects"
        )


@pytest.mark.parametrize("service", SERVICES)
async def test_garbage_on_every_subject_is_dead_lettered(system: System, service: str) -> None:
    js = system.nc.jetstream()
    subjects = listened_subjects(service)
    sent: Counter[tuple[str, str]] = Counter()
    for subject, is_js in subjects:
        for junk in GARBAGE:
            if is_js:
                await js.publish(subject, junk, stream=subject.split(".")[0].upper())
            else:  # commands and queries answer at once, naming what is wrong
                reply = await system.call(subject, junk)
                assert not reply.ok and reply.error and "invalid message" in reply.error, f"{subject} accepted {junk!r}"
            sent[(subject, junk.decode("utf-8", errors="replace"))] += 1

    mine: list[dict] = []
    for _ in range(150):  # each read returns the whole dead-letter stream
        mine = [d for d in await system.dead_letters() if d["service"] == service]
        if len(mine) >= sum(sent.values()):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # anything more (a redelivery) would arrive now
    mine = [d for d in await system.dead_letters() if d["service"] == service]
    assert Counter((d["subject"], d["payload"]) for d in mine) == sent, "each bad message parked exactly once"
    assert all(d["reason"].startswith("invalid message") and d["deliveries"] == 1 for d in mine), [
        d["reason"] for d in mine if not d["reason"].startswith("invalid message")
    ][:3]

    # Still running, and still working: the whole path through every service.
    for name in SERVICES:
        assert system.alive(name), f"{name} died:\n{system.log(name)[-2000:]}"
        await system.healthy(name)
    await flow.load_reference(system, n_experts=1)
    await flow.submit(system, "r1")
    p = await flow.proposal_for(system, "r1")
    await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="Sở Nội vụ"))
    await flow.assignment(system, p["id"], "approved")
    for _ in range(100):
        if any(p["id"] in n["body"] for n in await flow.inbox(system, f"expert:{p['expert_id']}")):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the notifier no longer tells the expert")
