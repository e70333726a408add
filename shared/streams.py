"""The JetStream topology: one stream per owning service holding exactly its event subjects, the
dead-letter stream, the leaders bucket, and every service's durable consumers.

All of it is made by one administrative step (`setup`, run with the `admin` identity by
`expertshare up`, the tests' fixtures and a deployment's setup job), from the events declared in
`shared.catalogue` and the consumer catalogue below alone: every run gives the same
configuration, so the first creates it and every later one finds it as it wants it (FastStream
would declare a stream from whatever subjects the declaring service happens to use, and two
services would then disagree about it). Services cannot create, change, delete or purge
anything: at start they only `check` that what they use is there.

Every stream is bounded (`max_bytes` as well as `max_age`: a flood of small bad messages cannot
fill the disk) and refuses deleting or purging messages (`deny_delete`, `deny_purge`), even to
the admin: what was published stays until its age or the size limit removes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

import structlog
from faststream.nats import JStream
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from shared import subjects as s
from shared.catalogue import events_of, owners

log = structlog.get_logger("streams")

DEADLETTER = "DEADLETTER"
# The key-value bucket of work only one copy may do at a time (`shared.leader`). Its TTL is the
# lease: a holder that stops renewing loses its key this long after its last renewal.
LEADERS = "leaders"
LEADER_TTL_S = 5.0
_STREAM_IN_USE = 10058  # JetStream: stream name already in use with a different configuration
GIB, MIB = 1024**3, 1024**2

# Every durable consumer: per service, its consumer's name (the durable is `<service>-<name>`)
# and the event subject it reads. `Service.event` refuses a consumer that is not listed here, so
# the admin's setup makes exactly the consumers the services use.
CONSUMERS: dict[str, dict[str, str]] = {
    "matcher": {
        "reference": s.REFERENCE_REGISTERED,
        "units": s.UNIT_REGISTERED,
        "travel": s.TRAVEL_REGISTERED,
        "experts": s.EXPERT_REGISTERED,
        "contracts": s.CONTRACT_REGISTERED,
        "contract-status": s.CONTRACT_STATUS_CHANGED,
        "balances": s.BALANCE_CHANGED,
        "approvals": s.ASSIGNMENT_APPROVED,
        "acceptances": s.ASSIGNMENT_ACCEPTED,
        "rejections": s.ASSIGNMENT_REJECTED,
        "declines": s.ASSIGNMENT_DECLINED,
        "cancellations": s.ASSIGNMENT_CANCELLED,
        "completions": s.REQUEST_COMPLETED,
    },
    "contracts": {
        "proposals": s.ASSIGNMENT_PROPOSED,
        "withdrawals": s.ASSIGNMENT_WITHDRAWN,
        "requests": s.REQUEST_SUBMITTED,
        "submissions": s.REQUESTS_SUBMITTED,
        "cancellations": s.REQUEST_CANCELLED,
    },
    "notifier": {
        "reference": s.REFERENCE_REGISTERED,
        "units": s.UNIT_REGISTERED,
        "experts": s.EXPERT_REGISTERED,
        "contracts": s.CONTRACT_REGISTERED,
        "contract_status": s.CONTRACT_STATUS_CHANGED,
        "submitted": s.REQUEST_SUBMITTED,
        "submissions": s.REQUESTS_SUBMITTED,
        "proposed": s.ASSIGNMENT_PROPOSED,
        "overcommitted": s.PLAN_OVERCOMMITTED,
        "unmatched": s.REQUEST_UNMATCHED,
        "approved": s.ASSIGNMENT_APPROVED,
        "accepted": s.ASSIGNMENT_ACCEPTED,
        "declined": s.ASSIGNMENT_DECLINED,
        "cancelled": s.ASSIGNMENT_CANCELLED,
        "hours": s.HOURS_LOGGED,
        "hours_flagged": s.HOURS_FLAGGED,
        "completed": s.REQUEST_COMPLETED,
        "balances": s.BALANCE_CHANGED,
    },
}


class SetupMissing(RuntimeError):
    """A stream, consumer or bucket a service needs is not there: the admin's setup has not run."""


@dataclass(frozen=True)
class Consumer:
    """A durable pull consumer as the admin makes it and its service binds to it."""

    stream: str
    config: ConsumerConfig

    @property
    def durable(self) -> str:
        return str(self.config.durable_name)


def stream_name(owner: str) -> str:
    return owner.upper()


def _replicas() -> int:
    # One node on a laptop; production (compose.yaml) runs three and keeps three copies.
    return int(os.environ.get("EXPERTSHARE_STREAM_REPLICAS", "1"))


def _bytes(env: str, default: int) -> int:
    return int(os.environ.get(env, str(default)))


def stream_config(owner: str, replicas: int | None = None) -> StreamConfig:
    return StreamConfig(
        name=stream_name(owner),
        subjects=events_of(owner),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        # Producers publish with Nats-Msg-Id = event id: a resend from the outbox after a crash is
        # dropped by the server within this window, and consumers are idempotent beyond it.
        duplicate_window=300.0,
        max_age=30 * 24 * 3600.0,
        max_bytes=_bytes("EXPERTSHARE_STREAM_MAX_BYTES", GIB),
        deny_delete=True,
        deny_purge=True,
        num_replicas=replicas or _replicas(),
    )


def deadletter_config(replicas: int | None = None) -> StreamConfig:
    return StreamConfig(
        name=DEADLETTER,
        subjects=list(s.DEADLETTER_STREAM_SUBJECTS),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=90 * 24 * 3600.0,  # long enough for someone to look at what was parked
        max_bytes=_bytes("EXPERTSHARE_DEADLETTER_MAX_BYTES", 256 * MIB),
        deny_delete=True,
        deny_purge=True,
        num_replicas=replicas or _replicas(),
    )


def leaders_config(bucket: str = LEADERS, ttl_s: float = LEADER_TTL_S, replicas: int | None = None) -> KeyValueConfig:
    # A key-value stream denies deleting messages by itself; a key's delete is a tombstone.
    return KeyValueConfig(
        bucket=bucket,
        history=1,
        ttl=ttl_s,
        storage=StorageType.FILE,
        replicas=replicas or _replicas(),
        max_bytes=MIB,
        description="Leaders: one key per kind of work, held by one copy at a time",
    )


def consumer_config(service: str, name: str, subject: str, *, max_deliver: int, ack_wait_s: float) -> ConsumerConfig:
    durable = f"{service}-{name}"
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        max_deliver=max_deliver,
        ack_wait=ack_wait_s,
    )


def catalogue() -> list[Consumer]:
    """Every service's consumers as `CONSUMERS` lists them, with each service's settings from the
    environment (`<SERVICE>_MAX_DELIVER`, `<SERVICE>_ACK_WAIT_S`), as the service itself reads them."""
    from shared.settings import ServiceSettings

    out = []
    for service, names in CONSUMERS.items():
        st = ServiceSettings(_env_prefix=f"{service.upper()}_", service=service)
        for name, subject in names.items():
            out.append(
                Consumer(
                    stream_name(subject.split(".")[0]),
                    consumer_config(service, name, subject, max_deliver=st.max_deliver, ack_wait_s=st.ack_wait_s),
                )
            )
    return out


async def leaders_bucket(
    js: JetStreamContext, bucket: str = LEADERS, ttl_s: float = LEADER_TTL_S, replicas: int | None = None
) -> KeyValue:
    """The leaders bucket, made on first use with the TTL given (an existing bucket keeps its own).
    Only the admin may make it; a service finds it made by the setup."""
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(leaders_config(bucket, ttl_s, replicas))


def stream_for(owner: str) -> JStream:
    """The owner's stream as FastStream sees it: already declared, never declared by FastStream."""
    return JStream(name=stream_name(owner), declare=False)


def deadletter_stream() -> JStream:
    return JStream(name=DEADLETTER, declare=False)


async def setup(url: str, *, consumers: Iterable[Consumer] | None = None, replicas: int | None = None) -> None:
    """The admin's step: every stream (made, or brought to this code's configuration), the leaders
    bucket, and the durable consumers (`catalogue()` unless given). `replicas`: copies of each
    stream (default EXPERTSHARE_STREAM_REPLICAS, else 1)."""
    from shared.nats import connect

    nc = await connect(url, "admin", connect_timeout=5, max_reconnect_attempts=5)
    try:
        js = nc.jetstream()
        for config in [*(stream_config(o, replicas) for o in owners()), deadletter_config(replicas)]:
            await _declare(js, config)
        await leaders_bucket(js, replicas=replicas)
        for consumer in catalogue() if consumers is None else consumers:
            await js.add_consumer(consumer.stream, config=consumer.config)
    finally:
        await nc.close()


async def _declare(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
        return
    except BadRequestError as err:
        if err.err_code != _STREAM_IN_USE:
            raise
    assert config.name is not None, "every stream this project declares has a name"
    current = (await js.stream_info(config.name)).config
    # Subjects only grow: an older instance may still publish on the ones it knows.
    subjects = sorted(set(current.subjects or []) | set(config.subjects or []))
    wanted = replace(
        current,
        subjects=subjects,
        max_age=config.max_age,
        max_bytes=config.max_bytes,
        discard=config.discard,
        deny_delete=True,
        deny_purge=True,
    )
    if wanted == current:
        return
    try:
        await js.update_stream(wanted)
        log.info("stream_updated", stream=config.name, subjects=subjects, max_bytes=config.max_bytes)
    except BadRequestError as err:  # the server refuses some changes: say which, keep the rest running
        log.warning("stream_update_refused", stream=config.name, reason=err.description)


async def check(
    js: JetStreamContext, *, streams: Iterable[str], consumers: Iterable[Consumer] = (), buckets: Iterable[str] = ()
) -> None:
    """What a service uses exists (it may not make it): else SetupMissing naming the first missing."""
    for name in streams:
        try:
            await js.stream_info(name)
        except NotFoundError:
            raise SetupMissing(f"stream {name} does not exist") from None
    for consumer in consumers:
        try:
            await js.consumer_info(consumer.stream, consumer.durable)
        except NotFoundError:
            raise SetupMissing(f"consumer {consumer.durable} of stream {consumer.stream} does not exist") from None
    for bucket in buckets:
        try:
            await js.key_value(bucket)
        except BucketNotFoundError:
            raise SetupMissing(f"key-value bucket {bucket} does not exist") from None
