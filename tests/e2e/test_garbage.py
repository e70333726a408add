"""Garbage on every subject a service listens to: it keeps running, and each bad message lands in
the dead-letter subject with a reason (and a command's caller gets a clear error)."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from shared import subjects as s
from tests.e2e.system import SERVICES, System

GARBAGE = [b"", b"not json at all", b"\xff\xfe\x00", b"[1, 2, 3]", b'{"event_id": 42, "unexpected": true}']


def listened_subjects(service: str) -> list[tuple[str, bool]]:
    """(subject, is_jetstream) for every subscriber the service's composition root registers."""
    app = importlib.import_module(f"services.{service}.app")
    settings_mod = importlib.import_module(f"services.{service}.settings")
    cls = next(v for k, v in vars(settings_mod).items() if k.endswith("Settings") and v.__module__ == settings_mod.__name__)
    svc = app.build(cls(database_url="sqlite://"))
    return [(str(sub._resolved_subject_string), getattr(sub, "stream", None) is not None)
            for sub in svc.broker.subscribers]


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
async def test_garbage_on_every_subject_is_dead_lettered(system: System, service: str) -> None:
    js = system.nc.jetstream()
    subjects = [(subj, is_js) for subj, is_js in listened_subjects(service) if not subj.endswith(".health.get")]
    assert subjects, "the service listens to nothing?"
    expected = 0
    for subject, is_js in subjects:
        for junk in GARBAGE:
            if is_js:
                await js.publish(subject, junk, stream=subject.split(".")[0].upper())
                expected += 1
            elif not subject.endswith(".get"):  # queries are reads: they answer, nothing to park
                reply = await system.call(subject, junk)
                assert not reply.ok and reply.error, f"{subject} accepted {junk!r}"
                expected += 1
            else:
                reply = await system.call(subject, junk)
                assert not reply.ok and "invalid message" in (reply.error or "")
                expected += 1
    letters: list[dict] = []
    for _ in range(100):
        letters += await system.dead_letters()
        mine = [d for d in letters if d["service"] == service]
        if len(mine) >= expected:
            break
        await asyncio.sleep(0.2)
    mine = [d for d in letters if d["service"] == service]
    assert len(mine) == expected, f"{len(mine)} dead letters for {expected} bad messages"
    assert all(d["reason"] for d in mine)
    assert {d["subject"] for d in mine} == {subj for subj, _ in subjects}
    for name in SERVICES:
        assert system.alive(name), f"{name} died:\n{system.log(name)[-2000:]}"
        await system.healthy(name)
    assert (await system.call(s.health(service), b"{}")).ok
