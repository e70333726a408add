"""The JetStream topology on a real nats-server: declared the same by every service, widened when
newer code knows more subjects, and empty pulls that FastStream's loop takes in its stride."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shared import subjects as s
from shared.catalogue import events_of
from shared.nats import EmbeddedNats, connect, free_port, make_broker, start_nats
from shared.streams import DEADLETTER, owners, setup, stream_config


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = start_nats(tmp_path / "nats", free_port())
    yield server
    server.stop()


async def test_every_service_declares_the_same_streams_without_conflict(nats_server: EmbeddedNats) -> None:
    await setup(nats_server.url)
    await setup(nats_server.url)  # a second run, or a restart: nothing to change
    nc = await connect(nats_server.url, "admin")
    js = nc.jetstream()
    for owner in owners():
        config = (await js.stream_info(owner.upper())).config
        assert sorted(config.subjects or []) == sorted(events_of(owner))
        assert config.duplicate_window == 300.0, "resends from the outbox are dropped within 5 min"
    assert (await js.stream_info(DEADLETTER)).config.subjects == s.DEADLETTER_STREAM_SUBJECTS
    await nc.close()


async def test_a_stream_declared_by_older_code_is_widened_not_refused(fresh_nats: EmbeddedNats) -> None:
    nc = await connect(fresh_nats.url, "admin")
    js = nc.jetstream()
    older = stream_config("matcher")
    await js.add_stream(replace(older, subjects=older.subjects[:2]))
    await setup(fresh_nats.url)
    assert sorted((await js.stream_info("MATCHER")).config.subjects or []) == sorted(events_of("matcher"))
    await nc.close()


async def test_an_empty_pull_raises_the_timeout_faststream_expects(fresh_nats: EmbeddedNats) -> None:
    make_broker(fresh_nats.url, name="probe")  # what every service does first
    nc = await connect(fresh_nats.url, "admin")
    js = nc.jetstream()
    await js.add_stream(name="EMPTY", subjects=["empty.x"])
    sub = await js.pull_subscribe("empty.x", durable="d")
    raised: Counter[str] = Counter()
    # Deadlines around the server's round trip: nats-py 2.16 raises a bare asyncio.TimeoutError
    # from some of these, which FastStream's pull loop would take for a crash.
    for timeout in [i * 0.00005 for i in range(1, 80)] * 3:
        try:
            await sub.fetch(5, timeout=timeout)
        except Exception as err:  # noqa: BLE001 - counting what kinds come out
            raised[f"{type(err).__module__}.{type(err).__name__}"] += 1
    await nc.close()
    assert set(raised) == {"nats.errors.TimeoutError"}, raised


async def test_a_stream_made_before_the_limits_is_bounded_and_denies_delete_and_purge(fresh_nats: EmbeddedNats) -> None:
    """A developer's var/ from before: its streams had no size limit and allowed deleting messages."""
    nc = await connect(fresh_nats.url, "admin")
    js = nc.jetstream()
    older = replace(stream_config("matcher"), max_bytes=None, deny_delete=False, deny_purge=False)
    await js.add_stream(older)
    await setup(fresh_nats.url)
    config = (await js.stream_info("MATCHER")).config
    assert config.deny_delete and config.deny_purge and config.max_bytes == stream_config("matcher").max_bytes
    await nc.close()
