"""Delivery semantics shared by every service: how messages are consumed, refused and published.

- Events are consumed by durable pull consumers one at a time (`batch_size`), acknowledged only
  after the handler's transaction commits (`NACK_ON_ERROR`), retried with a growing delay on an
  unexpected error, and dead-lettered once `max_deliver` is reached: never retried forever.
- A message that is malformed, invalid or refused by a rule goes at once to `deadletter.<service>`
  with the reason; a command's caller also gets a `Reply` naming what is wrong. Its shape is checked
  before any model sees it (`shared.wire`: UTF-8, nesting depth, NaN, lone surrogates), the
  reasons never echo the input, and the dead letter keeps the payload with its secrets redacted.
- A reply never outgrows NATS's max payload: its longest lists are cut, saying `truncated`.
- `run_once` wraps a use case in one transaction that also records the message id: a redelivered
  or repeated message changes nothing twice, and a repeated command gets its first answer again.
- `OutboxRelay` publishes committed outbox rows to JetStream with `Nats-Msg-Id` = event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

import anyio
import structlog
from faststream import AckPolicy, BaseMiddleware
from faststream.exceptions import NackMessage
from faststream.nats import NatsBroker, PullSub
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from shared import subjects
from shared.db import (
    OutboxRow,
    already_processed,
    mark_processed,
    pending_outbox,
    reader,
    retrying,
    transaction,
    utcnow,
)
from shared.limits import REPLY_BUDGET, fit
from shared.messages import BrokenRule, DeadKind, DeadLetter, FieldError, Reply
from shared.nats import inbox_prefix
from shared.settings import ServiceSettings
from shared.streams import DEADLETTER, consumer_config, deadletter_stream, stream_for
from shared.tracing import published_under
from shared.wire import REDACTED, SECRET_KEYS, Malformed, check_payload, redacted_text

log = structlog.get_logger("bus")
T = TypeVar("T")

#: Seconds from the stream storing the message being handled to its handling starting here (the
#: server's delivery, the pull, the parse); None for a message no stream stored (a command).
DELIVERY_LAG: ContextVar[float | None] = ContextVar("delivery_lag", default=None)


class Rejected(Exception):
    """A well-formed message that a rule refuses; `field` names the culprit when there is one."""

    def __init__(
        self, message: str, field: str | None = None, *, code: str | None = None, broken: Sequence[BrokenRule] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code  # a `messages.Refusal`, when a reader may act on the kind of refusal
        self.broken = list(broken)  # the rules broken, as data (`shared.rules`), when it is about rules

    def reply(self) -> Reply[Any]:
        errs = (
            [FieldError(field=self.field, message=self.message, code=self.code, broken=self.broken)]
            if self.field
            else []
        )
        return Reply.failure(self.message, *errs)


class NotYet(Exception):
    """An event that refers to something this service has not heard of yet. Events of different
    subjects arrive in any order (a contract's balance before the contract): the event is
    delivered again a little later, and dead-lettered only if what it waits for never comes."""


def validation_reply(err: ValidationError) -> Reply:
    fields = [
        # The first location is the handler's parameter name, which means nothing to a caller.
        # Only the location and pydantic's message: never `input`, which may be a secret or huge.
        FieldError(field=".".join(str(p) for p in e["loc"][1:])[:200] or "message", message=e["msg"][:500])
        for e in err.errors(include_url=False, include_input=False, include_context=False)[:50]
    ]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:10])
    return Reply.failure(f"invalid message: {summary}", *fields)


class DeadLetterMiddleware(BaseMiddleware):
    """Turns bad input and exhausted retries into a dead letter (and a Reply for commands)."""

    service: str = "service"
    max_deliver: int = 5
    counter: Any = None  # a Prometheus counter of dead letters by service and reason (shared.metrics)

    @classmethod
    def for_service(cls, service: str, max_deliver: int, counter: Any = None) -> type[DeadLetterMiddleware]:
        return type(
            f"DeadLetter_{service}", (cls,), {"service": service, "max_deliver": max_deliver, "counter": counter}
        )

    async def consume_scope(self, call_next: Callable[..., Any], msg: Any) -> Any:
        raw = msg.raw_message
        structlog.contextvars.bind_contextvars(subject=raw.subject)
        DELIVERY_LAG.set(_since_stored(raw))
        try:
            check_payload(raw.data)
            return fit_reply(await call_next(msg))
        except Malformed as err:
            reply = Reply.failure(
                f"invalid message: {err.field}: {err.message}", FieldError(field=err.field, message=err.message)
            )
            await self._dead_letter(msg, "invalid", reply.error or "malformed message")
            return reply if msg.reply_to else None
        except ValidationError as err:
            reply = validation_reply(err)
            await self._dead_letter(msg, "invalid", reply.error or "invalid message")
            return reply if msg.reply_to else None
        except Rejected as err:
            if msg.reply_to:
                return err.reply()
            await self._dead_letter(msg, "refused", f"refused: {err.message}")
            return None
        except NotYet as err:
            deliveries = _deliveries(raw)
            if msg.reply_to or deliveries >= self.max_deliver:
                await self._dead_letter(msg, "unknown", f"still unknown after {deliveries} deliveries: {err}")
                return Reply.failure(str(err)) if msg.reply_to else None
            log.info("waiting_for_earlier_event", reason=str(err), deliveries=deliveries)
            raise NackMessage(delay=_backoff(deliveries)) from err
        except Exception as err:  # noqa: BLE001 - every other failure is retried, then parked
            deliveries = _deliveries(raw)
            reason = f"{type(err).__name__}: {err}"
            log.warning("handler_failed", reason=reason, deliveries=deliveries)
            if msg.reply_to or deliveries >= self.max_deliver:
                await self._dead_letter(msg, "failed", f"failed after {deliveries} deliveries: {reason}")
                return Reply.failure(f"internal error: {reason}") if msg.reply_to else None
            raise NackMessage(delay=_backoff(deliveries)) from err
        finally:
            structlog.contextvars.unbind_contextvars("subject", "event_id", "correlation_id")

    async def _dead_letter(self, msg: Any, kind: DeadKind, reason: str) -> None:
        raw = msg.raw_message
        letter = DeadLetter(
            service=self.service,
            subject=raw.subject,
            kind=kind,
            reason=reason[:2000],
            payload=redacted_text(raw.data, 100_000),
            headers={k: REDACTED if SECRET_KEYS.match(k) else str(v) for k, v in (raw.headers or {}).items()},
            deliveries=_deliveries(raw),
        )
        log.warning("dead_lettered", reason=letter.reason)
        if self.counter is not None:
            self.counter.labels(self.service, letter.kind).inc()
        broker = self.context.get("broker")
        await broker.publish(
            letter.model_dump(mode="json"),
            subjects.deadletter(self.service),
            stream=DEADLETTER,
        )


def fit_reply(result: Any) -> Any:
    """A reply cut to what one NATS message carries (see `shared.limits.fit`)."""
    if not isinstance(result, Reply) or not result.data:
        return result
    dumped = result.data.model_dump(mode="json") if isinstance(result.data, BaseModel) else result.data
    data, cut = fit(dumped, REPLY_BUDGET)
    return result.model_copy(update={"data": {**data, "truncated": True}}) if cut else result


def _backoff(deliveries: int) -> float:
    return min(30.0, 0.5 * 2**deliveries)


def _since_stored(raw: Any) -> float | None:
    try:
        stored: dt.datetime = raw.metadata.timestamp
    except Exception:  # noqa: BLE001 - core NATS messages have no JetStream metadata
        return None
    return max(0.0, (dt.datetime.now(dt.UTC) - stored).total_seconds())


def _deliveries(raw: Any) -> int:
    try:
        return int(raw.metadata.num_delivered)
    except Exception:  # noqa: BLE001 - core NATS messages have no JetStream metadata
        return 1


def event_subscriber(
    broker: NatsBroker,
    settings: ServiceSettings,
    subject: str,
    *,
    name: str,
    description: str,
    identity: str | None = None,
) -> Callable[[Callable[..., Any]], Any]:
    """A durable pull consumer of one event subject, owned by this service; made by the admin's
    setup with this same configuration (`shared.streams.consumer_config`), bound to here. Its
    messages come to the inboxes of the service's identity, the only ones it may subscribe to."""
    owner = subject.split(".")[0]
    config = consumer_config(
        settings.service, name, subject, max_deliver=settings.max_deliver, ack_wait_s=settings.ack_wait_s
    )
    return broker.subscriber(
        subject,
        stream=stream_for(owner),
        durable=config.durable_name,
        pull_sub=PullSub(batch_size=settings.batch_size, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        config=config,
        inbox_prefix=f"{inbox_prefix(identity or settings.service)}.".encode(),
        description=description,
    )


def command_subscriber(
    broker: NatsBroker, settings: ServiceSettings, subject: str, *, description: str
) -> Callable[[Callable[..., Any]], Any]:
    """A request-reply handler; instances of a service share the work through a queue group, and
    each handles up to `command_workers` at once (each is one transaction of its own, exactly
    once per message id: their order between two senders was never promised)."""
    return broker.subscriber(
        subject, queue=settings.service, description=description, max_workers=settings.command_workers
    )


def declare_publishers(broker: NatsBroker, owner: str, schemas: dict[str, type]) -> None:
    """Register the owner's event subjects (with their schemas) for its stream and the docs."""
    for subject, schema in schemas.items():
        broker.publisher(
            subject,
            stream=stream_for(owner),
            schema=schema,
            description=(schema.__doc__ or subject).strip().splitlines()[0],
        )
    broker.publisher(
        subjects.deadletter(owner),
        stream=deadletter_stream(),
        schema=DeadLetter,
        description="Messages this service could not process, with the reason.",
    )


def run_once(
    engine: Engine,
    key: str,
    subject: str,
    use_case: Callable[[Session], Reply | None],
    *,
    remember_refusal: bool = False,
) -> Reply | None:
    """Run `use_case` in one transaction, at most once per `key` (a message id). A deadlock or a
    serialization failure runs the whole transaction again (`retrying`). With `remember_refusal`
    (commands), a refusal is kept with the id too: the use case's changes are rolled back, the
    refusal is raised, and the same id repeated gets that same answer, not a new decision.

    Two copies may handle one id at once (a client's retry reaching the other copy, a redelivery
    after the ack wait): both run, one commits, the other's record of the id collides and its whole
    transaction is rolled back. It then answers what the first did."""
    try:
        return retrying(lambda: _run_once(engine, key, subject, use_case, remember_refusal))
    except IntegrityError:
        with Session(engine) as session:
            done = already_processed(session, key)
        if done is None:
            raise
        log.info("handled_by_another_copy", key=key)
        return _answer(done)


def _answer(done: Any) -> Reply | None:
    return Reply.model_validate_json(done.reply) if done.reply else None


def _run_once(
    engine: Engine, key: str, subject: str, use_case: Callable[[Session], Reply | None], remember_refusal: bool
) -> Reply | None:
    refusal: Rejected | None = None
    with transaction(engine) as session:
        done = already_processed(session, key)
        if done is not None:
            log.info("duplicate_ignored", key=key)
            return _answer(done)
        if remember_refusal:
            try:
                with session.begin_nested():
                    result = use_case(session)
            except Rejected as err:
                refusal, result = err, err.reply()
        else:
            result = use_case(session)
        mark_processed(session, key, subject, result.model_dump_json() if result else "")
    if refusal is not None:
        raise refusal
    return result


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Blocking work (database sessions, the solver) never runs on the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)


class OutboxRelay:
    """Publishes committed outbox rows, oldest first; woken after each commit, else polls.

    Any number of copies of a service may run a relay on one database. On PostgreSQL each relay
    claims the rows it publishes (`FOR UPDATE SKIP LOCKED`, in one transaction that marks them
    published when done), so two relays never publish the same rows: the other takes the next
    ones. The transaction is held across the publishes, against the usual rule, because the rows
    it locks are outbox rows only, which nothing but relays ever updates: no handler waits on it
    (a lease would need a column in every service's schema for the same effect). On SQLite (one
    process per file) nothing is claimed: holding its single write lock over network calls would
    stall every handler, so rows are read, published, then marked; and marked apart from the
    publishing (`_marker`): what was published while a mark waited for the lock is marked with the
    next one, and the next rows are published meanwhile (one mark per flush was a write transaction
    for every event a notifier handled, waiting behind them for SQLite's one lock).

    Up to `in_flight` rows are published at once (sent in order, acknowledged together). A row
    that fails to publish is left pending and the others still go (and are marked); after
    `max_failures` failures in a row the batch ends (the server is away) and the relay backs off.
    """

    def __init__(
        self,
        engine: Engine,
        broker: NatsBroker,
        interval_s: float = 0.2,
        *,
        batch_size: int = 200,
        max_failures: int = 3,
        in_flight: int = 64,
        round_s: float = 0.02,
    ) -> None:
        self.engine = engine
        self.round_s = round_s
        self._last_round = -math.inf
        self.broker = broker
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.max_failures = max_failures
        self.in_flight = in_flight
        self.claims = engine.dialect.name == "postgresql"
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._unmarked: set[int] = set()  # published, not marked yet (SQLite: one relay a file)
        self._marker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # what was published is marked before the service ends
            await self.marked()

    def notify(self) -> None:
        self.wake.set()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                sent = await self.flush()
                failures = 0
            except Exception as err:  # noqa: BLE001 - NATS down: keep the rows, try again later
                failures += 1
                log.warning("outbox_publish_failed", error=str(err), attempt=failures)
                sent = 0
            if sent:
                continue
            self.wake.clear()
            delay = self.interval_s if not failures else min(10.0, self.interval_s * 2**failures)
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation that
            # stop() sends when the event is set at the same moment, and the relay never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.wake.wait()

    async def flush(self) -> int:
        """Publish a batch of pending rows; the number published. Raises only if none could be."""
        await self._round_begins()
        if not self.claims:
            if len(self._unmarked) >= self.batch_size and self._marker is not None:
                await asyncio.shield(self._marker)  # marking lags a whole batch: let it catch up
            rows = await in_thread(self._pending, frozenset(self._unmarked))
            return await self._publish_all(rows, self._mark_later)
        session = Session(self.engine, expire_on_commit=False)
        try:
            rows = await in_thread(partial(pending_outbox, session, self.batch_size, claim=True))
            return await self._publish_all(rows, lambda sent: in_thread(self._mark_claimed, session, sent))
        finally:
            await in_thread(session.close)  # releases the claim on whatever was not published

    async def _round_begins(self) -> None:
        """At most one round every `round_s`: an event alone goes at once, a burst in rounds.
        Woken after every commit, a relay went round once an event in a burst of them (a re-plan's
        twenty-five proposals, each telling two parties): a read, a publish and a mark each time, in
        the same process and at the same database lock as the handler of the next event, which
        then took twice as long."""
        wait = self._last_round + self.round_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_round = time.monotonic()

    async def _publish_all(self, rows: list[OutboxRow], mark: Callable[[list[int | None]], Any]) -> int:
        """Up to `in_flight` publishes at once, issued oldest first (one connection: the server
        receives and stores them in that order) and their acknowledgements awaited together: a
        round of a hundred events costs about one round trip, not a hundred."""
        sent: list[int | None] = []
        failed: Exception | None = None
        in_a_row = 0
        try:
            for start in range(0, len(rows), self.in_flight):
                part = rows[start : start + self.in_flight]
                outcomes = await asyncio.gather(*(self._publish(row) for row in part), return_exceptions=True)
                for row, outcome in zip(part, outcomes, strict=True):
                    if isinstance(outcome, Exception):  # this row waits for the next round, the others go
                        failed, in_a_row = outcome, in_a_row + 1
                        log.warning(
                            "outbox_row_failed",
                            event_id=row.event_id,
                            subject=row.subject,
                            error=f"{type(outcome).__name__}: {outcome}",
                        )
                    elif isinstance(outcome, BaseException):  # cancelled: the relay is stopping
                        raise outcome
                    else:
                        in_a_row = 0
                        sent.append(row.id)
                if in_a_row >= self.max_failures:
                    break  # the server is away: the rest waits for the next round
        finally:
            if sent:
                await mark(sent)
        if failed is not None and not sent:
            raise failed
        return len(sent)

    async def _publish(self, row: OutboxRow) -> None:
        with published_under(row.event_id):  # the trace of the transaction that wrote it
            await self._send(row)

    async def _send(self, row: OutboxRow) -> None:
        await self.broker.publish(
            json.loads(row.payload),
            row.subject,
            headers={"Nats-Msg-Id": row.event_id},
            correlation_id=row.correlation_id or None,
            stream=row.subject.split(".")[0].upper(),
            timeout=5.0,
        )

    def _pending(self, unmarked: frozenset[int] = frozenset()) -> list[OutboxRow]:
        with Session(reader(self.engine)) as s:  # a read: it never waits for a writer's lock
            return pending_outbox(s, self.batch_size, skip=unmarked)

    async def marked(self) -> None:
        """Until what was published is marked (or its mark failed)."""
        while self._marker is not None and not self._marker.done():
            await asyncio.shield(self._marker)

    async def _mark_later(self, sent: list[int | None]) -> None:
        self._unmarked.update(i for i in sent if i is not None)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_all(), name="outbox-marker")

    async def _mark_all(self) -> None:
        """Mark what was published, in as few transactions as the lock allows; a mark that fails
        leaves the rows to be published again (the server drops the repeat by its id)."""
        while self._unmarked:
            ids = sorted(self._unmarked)
            try:
                await in_thread(self._mark, ids)
            except Exception as err:  # noqa: BLE001 - the database away: publish them again
                log.warning("outbox_mark_failed", rows=len(ids), error=f"{type(err).__name__}: {err}")
                self._unmarked.difference_update(ids)
                return
            self._unmarked.difference_update(ids)

    def _mark(self, ids: Sequence[int | None]) -> None:
        with transaction(self.engine) as s:
            _mark_published(s, ids)

    @staticmethod
    def _mark_claimed(session: Session, ids: list[int | None]) -> None:
        _mark_published(session, ids)
        session.commit()


def _mark_published(session: Session, ids: Sequence[int | None]) -> None:
    session.execute(update(OutboxRow).where(col(OutboxRow.id).in_(ids)).values(published_at=utcnow()))
