"""The JetStream topology: one stream per owning service holding exactly its event subjects, and
the dead-letter stream. Every service declares all of it, identically, before it subscribes.

FastStream would declare a stream from whatever subjects the declaring service happens to use, in
the order it registered them; two services then disagree about the same stream ("stream name
already in use with a different configuration") on every start. Declaring here, from
`shared.subjects` alone, gives every service the same configuration, so the first start creates
it and every later one finds it as it wants it.
"""

from __future__ import annotations

import os
from dataclasses import replace

import nats
import structlog
from faststream.nats import JStream
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue

from shared import subjects

log = structlog.get_logger("streams")

DEADLETTER = "DEADLETTER"
# The key-value bucket of work only one copy may do at a time (`shared.leader`). Its TTL is the
# lease: a holder that stops renewing loses its key this long after its last renewal.
LEADERS = "leaders"
LEADER_TTL_S = 5.0
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration


def owners() -> list[str]:
    """Every service that publishes events, from the subject catalogue."""
    return sorted({subj.split(".")[0] for subj in subjects.all_subjects()
                   if subjects.events_of(subj.split(".")[0])})


def _replicas() -> int:
    # One node on a laptop; production (compose.yaml) runs three and keeps three copies.
    return int(os.environ.get("EXPERTSHARE_STREAM_REPLICAS", "1"))


def stream_config(owner: str) -> StreamConfig:
    return StreamConfig(
        name=owner.upper(),
        subjects=sorted(subjects.events_of(owner)),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        # Producers publish with Nats-Msg-Id = event id: a resend from the outbox after a crash is
        # dropped by the server within this window, and consumers are idempotent beyond it.
        duplicate_window=300.0,
        max_age=30 * 24 * 3600.0,
        num_replicas=_replicas(),
    )


def deadletter_config() -> StreamConfig:
    return StreamConfig(
        name=DEADLETTER,
        subjects=list(subjects.DEADLETTER_STREAM_SUBJECTS),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=90 * 24 * 3600.0,  # long enough for someone to look at what was parked
        num_replicas=_replicas(),
    )


def leaders_config(bucket: str = LEADERS, ttl_s: float = LEADER_TTL_S) -> KeyValueConfig:
    return KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s, storage=StorageType.FILE, replicas=_replicas(),
                          description="Leaders: one key per kind of work, held by one copy at a time")


async def leaders_bucket(js: JetStreamContext, bucket: str = LEADERS, ttl_s: float = LEADER_TTL_S) -> KeyValue:
    """The leaders bucket, made on first use with the TTL given (an existing bucket keeps its own)."""
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(leaders_config(bucket, ttl_s))


def stream_for(owner: str) -> JStream:
    """The owner's stream as FastStream sees it: already declared, never declared by FastStream."""
    return JStream(name=owner.upper(), declare=False)


def deadletter_stream() -> JStream:
    return JStream(name=DEADLETTER, declare=False)


async def declare_streams(url: str) -> None:
    """Create every stream, or widen its subjects when this code knows more of them."""
    nc = await nats.connect(url.split(","), connect_timeout=5, max_reconnect_attempts=5)
    try:
        js = nc.jetstream()
        for config in [*(stream_config(o) for o in owners()), deadletter_config()]:
            try:
                await js.add_stream(config)
            except BadRequestError as err:
                if err.err_code != _STREAM_IN_USE:
                    raise
                current = (await js.stream_info(config.name)).config
                wanted = sorted(set(current.subjects or []) | set(config.subjects or []))
                if wanted != sorted(current.subjects or []):
                    # Subjects only grow: an older instance may still publish on the ones it knows.
                    await js.update_stream(replace(current, subjects=wanted))
                    log.info("stream_widened", stream=config.name, subjects=wanted)
        await leaders_bucket(js)
    finally:
        await nc.close()
