"""The composition root every service shares: broker, engine, outbox relay, thin handlers.

A service module builds one `Service`, registers its use cases with `command`, `event` and
`query`, and runs `app()`. The handlers registered here are the whole of the messaging layer:
typed message in, one use case in a worker thread, exactly once per message id, `Reply` out.
"""

# No `from __future__ import annotations`: handlers below annotate their parameter with a model
# chosen at run time, which FastStream must see as a class, not a string.
import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import nats.errors
import nats.js.errors
import structlog
from faststream import FastStream
from faststream.nats.prometheus import NatsPrometheusMiddleware
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session

from shared import catalogue, endpoints, heap
from shared.bus import (
    DELIVERY_LAG,
    DeadLetterMiddleware,
    OutboxRelay,
    command_subscriber,
    declare_publishers,
    event_subscriber,
    in_thread,
    run_once,
)
from shared.clock import utcnow
from shared.db import make_engine, reader
from shared.endpoints import Endpoint
from shared.logging import configure, library_logger
from shared.messages import Done, FieldError, Message, Reply
from shared.metrics import (
    ConsumerBacklog,
    DomainCollector,
    EventTiming,
    Gauges,
    MetricsServer,
    dead_letter_counter,
    outbox_gauges,
)
from shared.nats import NatsServerError, connect, make_broker, require_seed
from shared.security import credentials
from shared.security.credentials import Actor, Refused
from shared.security.identities import LEADER_KEYS
from shared.security.secrets import secrets_dir
from shared.settings import ServiceSettings
from shared.streams import CONSUMERS, DEADLETTER, LEADERS, Consumer, SetupMissing, check, consumer_config, stream_name
from shared.tracing import configure_tracing

log = structlog.get_logger("service")


def _bind(msg: Message) -> None:
    structlog.contextvars.bind_contextvars(event_id=msg.event_id, correlation_id=msg.correlation_id)


@dataclass(frozen=True)
class Permit:
    """Who may send a command (rules as data, one per subject in each service): the roles, and
    the ownership check (`owner(session, cmd, actor)` raises `Rejected`) run in the command's
    transaction, where the rows it reads are the ones the use case changes."""

    roles: frozenset[str]
    owner: Callable[[Session, Any, Actor], None] | None = None

    @classmethod
    def of(cls, *roles: str, owner: Callable[[Session, Any, Actor], None] | None = None) -> "Permit":
        return cls(frozenset(roles), owner)

    def check_role(self, actor: Actor) -> None:
        if actor.role not in self.roles:
            article = "an" if actor.role[:1] in "aeiou" else "a"
            raise Refused(
                f"not allowed: {article} {actor.role} cannot send this command "
                f"(it is for {' or '.join(sorted(self.roles))})"
            )


class Keyring:
    """The public keys commands are verified with, read again when their files change (a rotated
    issuer key or a new service identity is picked up without a restart)."""

    def __init__(self) -> None:
        self._stamp: tuple[Any, ...] | None = None
        self._keys: tuple[list[credentials.IssuerKey], dict[str, str]] = ([], {})

    def keys(self) -> tuple[list[credentials.IssuerKey], dict[str, str]]:
        root = secrets_dir()
        paths = (root / credentials.ISSUER_PUB, root / "nats" / "public.json")
        stamp = (
            os.environ.get(credentials.ISSUER_KEY_ENV),
            root,
            *(p.stat().st_mtime_ns if p.exists() else None for p in paths),
        )
        if stamp != self._stamp:
            self._keys = (credentials.issuer_keys(root), credentials.service_keys(root))
            self._stamp = stamp
        return self._keys

    def verify(self, subject: str, cmd: Message) -> Actor:
        issuers, services = self.keys()
        return credentials.verify(subject, cmd, issuers, services, utcnow())


class Service:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        events: dict[str, type[Message]],
        create_schema: Callable[[Engine], None],
        on_started: "Callable[[Service], Any] | None" = None,
        identity: str | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service
        # Who it is on NATS: its own name (a test's probe may run as the admin).
        self.identity = identity or self.name
        self.engine = make_engine(settings.db_url())
        self.reader = reader(self.engine)  # queries: no write lock taken, none waited for
        self.consumers: list[Consumer] = []
        self.turns: dict[str, Turns] = {}  # per event consumer: its messages' turns at the database
        # What operators see (shared.metrics): the library's message metrics, the dead letters,
        # and the gauges the service reads from its database at each scrape (`gauges`).
        self.registry = CollectorRegistry()
        self.dead_letters = dead_letter_counter(self.registry)
        self.event_timing = EventTiming(self.registry)
        heap.watch(self.registry)
        self._gauges: list[Gauges] = [partial(outbox_gauges, self.name)]
        self.registry.register(DomainCollector(lambda: Session(self.reader), self._gauges))
        self.metrics = MetricsServer(self.name, self.registry, self.ready)
        self.backlog = ConsumerBacklog(self.name, self.registry, settings.consumer_poll_s)
        middlewares: list[Any] = []
        tracer_provider = configure_tracing(self.name)
        if tracer_provider is not None:
            from faststream.nats.opentelemetry import NatsTelemetryMiddleware

            middlewares.append(NatsTelemetryMiddleware(tracer_provider=tracer_provider))
        self.broker = make_broker(
            settings.nats_url,
            name=self.name,
            identity=self.identity,
            middlewares=[
                *middlewares,
                NatsPrometheusMiddleware(registry=self.registry, app_name=self.name),
                DeadLetterMiddleware.for_service(self.name, settings.max_deliver, self.dead_letters),
            ],
        )
        self.relay = OutboxRelay(self.engine, self.broker, settings.outbox_interval_s)
        self.keyring = Keyring()
        self._create_schema = create_schema
        self._on_started = on_started
        self._background: list[Any] = []
        self._stops: list[Callable[[], Any]] = []
        self._backlog: asyncio.Task[None] | None = None
        # Called after an event's transaction commits (the matcher schedules a re-solve), and after
        # a command's, when it was taken (the matcher decides a new request at once).
        self.after_event: Callable[[str, Message], Any] | None = None
        self.after_command: Callable[[str, Message], Any] | None = None
        declare_publishers(self.broker, self.name, events)
        # Subscribers start one by one: healthy only once all of them (and the background tasks) are.
        self.started = False
        self.owns_process = False  # set by `run`: the process's garbage collector is this service's to tune
        self.endpoints: list[Endpoint[Any, Any]] = []  # what it answers, for the AsyncAPI document
        self.query(
            endpoints.health(self.name),
            lambda _s, _m: self._health(),
            description=f"Is the {self.name} service up? (ok once every subscriber is)",
        )

    # ---------------------------------------------------------------- registration
    def command(
        self,
        endpoint: Endpoint[Any, Any],
        use_case: Callable[[Session, Any, Actor], Reply[Any]],
        *,
        description: str,
        permit: Permit,
    ) -> None:
        """A command is the act of someone: its proof is verified and the sender's role checked
        here, before anything is done (refused with the reason, nothing remembered); the ownership
        check runs in the use case's transaction, and the use case acts as the verified actor."""
        subject, model = endpoint.subject, endpoint.request
        self.endpoints.append(endpoint)

        async def handle(cmd: model) -> Reply:  # type: ignore[valid-type]
            message: Message = cmd  # the model FastStream parsed, seen by mypy as the base class
            _bind(message)
            try:
                actor = self.keyring.verify(subject, cmd)
                permit.check_role(actor)
            except Refused as err:
                log.warning("command_refused", subject=subject, reason=err.reason)
                return Reply.failure(err.reason, FieldError(field="proof", message=err.reason))
            reply = await in_thread(
                partial(
                    run_once,
                    self.engine,
                    message.event_id,
                    subject,
                    partial(_act, permit, use_case, cmd, actor),
                    remember_refusal=True,
                )
            )
            self.relay.notify()
            log.info("command_handled", ok=reply.ok if reply else None)
            if self.after_command is not None and (reply is None or reply.ok):
                await self.after_command(subject, cmd)
            return reply or Reply.of(Done())

        handle.__name__ = f"{subject.replace('.', '_')}"
        command_subscriber(self.broker, self.settings, subject, description=description)(handle)

    def event(
        self,
        subject: str,
        model: type[Message],
        use_case: Callable[[Session, Any], None],
        *,
        name: str,
        description: str,
    ) -> None:
        turn = self.turns[name] = Turns(self.engine)

        async def handle(evt: model) -> None:  # type: ignore[valid-type]
            message: Message = evt  # the model FastStream parsed, seen by mypy as the base class
            _bind(message)
            arrived = time.perf_counter()
            async with turn:
                began = time.perf_counter()
                await in_thread(
                    run_once, self.engine, f"{name}:{message.event_id}", subject, partial(_call, use_case, evt)
                )
            self.event_timing.observe(name, DELIVERY_LAG.get(), began - arrived, time.perf_counter() - began)
            self.relay.notify()
            log.info("event_handled", consumer=name)
            if self.after_event is not None:
                await self.after_event(subject, evt)

        handle.__name__ = f"on_{name}"
        listed = CONSUMERS.get(self.name)
        if listed is not None and listed.get(name) != subject:
            raise ValueError(
                f"{self.name}: consumer {name!r} of {subject} is not in shared.streams.CONSUMERS, "
                "from which the admin's setup makes every durable consumer: add it there"
            )
        self.consumers.append(
            Consumer(
                stream_name(subject.split(".")[0]),
                consumer_config(
                    self.name, name, subject, max_deliver=self.settings.max_deliver, ack_wait_s=self.settings.ack_wait_s
                ),
            )
        )
        event_subscriber(
            self.broker, self.settings, subject, name=name, description=description, identity=self.identity
        )(handle)

    def query(
        self,
        endpoint: Endpoint[Any, Any],
        fn: Callable[[Session, Any], Reply[Any]],
        *,
        description: str,
        permit: Permit | None = None,
    ) -> None:
        """A read. With `permit`, a signed one (an expensive query, for some roles only): the proof
        is verified and the role checked as for a command, before anything is read."""
        subject, model = endpoint.subject, endpoint.request
        self.endpoints.append(endpoint)

        async def handle(q: model) -> Reply:  # type: ignore[valid-type]
            if permit is not None:
                _bind(q)
                try:
                    permit.check_role(self.keyring.verify(subject, q))
                except Refused as err:
                    log.warning("query_refused", subject=subject, reason=err.reason)
                    return Reply.failure(err.reason, FieldError(field="proof", message=err.reason))
            return await in_thread(self._read, fn, q)

        handle.__name__ = f"{subject.replace('.', '_')}"
        command_subscriber(self.broker, self.settings, subject, description=description)(handle)

    def gauges(self, source: Gauges) -> None:
        """`source(session)` yields metric families read from this service's database, at each scrape."""
        self._gauges.append(source)

    def ready(self) -> bool:
        """Every subscriber started and the broker connected (`/healthz`)."""
        connection = getattr(self.broker, "_connection", None)
        return self.started and connection is not None and bool(connection.is_connected)

    def _jetstream(self) -> Any:
        connection = getattr(self.broker, "_connection", None)
        return connection.jetstream() if connection is not None and connection.is_connected else None

    def _health(self) -> Reply[Any]:
        if not self.started:
            return Reply.failure(f"{self.name} is starting")
        return Reply.of(endpoints.Health(service=self.name))

    def _read(self, fn: Callable[[Session, Any], Reply], q: Message) -> Reply:
        with Session(self.reader) as session:
            return fn(session, q)

    def background(self, start: Callable[[], Any], stop: Callable[[], Any] | None = None) -> None:
        """`start` after the subscribers; `stop` (awaited) at shutdown, before the relay stops."""
        self._background.append(start)
        if stop is not None:
            self._stops.append(stop)

    # ---------------------------------------------------------------- running
    async def prepare(self) -> None:
        """Before subscribing: this service's tables, and a check that the streams, consumers and
        bucket it uses exist. It may not make them: the admin's setup does (`shared.streams.setup`).

        A JetStream cluster electing a leader (a node just died) answers nothing for a few seconds,
        and the setup may still be running: the check is made again for `startup_wait_s`. A service
        that still cannot start exits saying what is missing, and its supervisor (`expertshare up`,
        compose) starts it again."""
        require_seed(self.identity)
        await in_thread(self._create_schema, self.engine)
        deadline = anyio.current_time() + self.settings.startup_wait_s
        while True:
            try:
                await self._check_setup()
                return
            except (
                nats.errors.TimeoutError,
                nats.errors.NoServersError,
                nats.js.errors.ServiceUnavailableError,
                TimeoutError,
                SetupMissing,
            ) as err:
                if anyio.current_time() > deadline:
                    if isinstance(err, SetupMissing):
                        raise NatsServerError(
                            f"{err}: the admin's setup (`expertshare up`, or "
                            "shared.streams.setup with the admin identity) makes it"
                        ) from None
                    raise
                log.warning("jetstream_not_ready", error=f"{type(err).__name__}: {err}")
                await anyio.sleep(1.0)

    async def _check_setup(self) -> None:
        nc = await connect(self.settings.nats_url, self.identity, connect_timeout=5, max_reconnect_attempts=5)
        try:
            own = [stream_name(self.name)] if catalogue.events_of(self.name) else []
            await check(
                nc.jetstream(),
                streams=sorted({*own, DEADLETTER, *(c.stream for c in self.consumers)}),
                consumers=self.consumers,
                buckets=[LEADERS] if self.name in LEADER_KEYS else [],
            )
        finally:
            await nc.close()

    def app(self) -> FastStream:
        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            # First: /healthz says "starting" (503) while the setup is checked and the subscribers start.
            self.metrics.start(self.settings.metrics_host, self.settings.metrics_port)
            try:
                await self.prepare()
                yield
            finally:
                self.metrics.stop()

        app = FastStream(self.broker, lifespan=lifespan, logger=library_logger())

        @app.on_shutdown
        async def _stopping() -> None:
            if self._backlog is not None:
                self._backlog.cancel()
            for stop in self._stops:
                await stop()
            # Before the broker drains: a publish into a draining connection only fails.
            await self.relay.stop()

        @app.after_startup
        async def _started() -> None:
            self.relay.start()
            for start in self._background:
                start()
            if self._on_started:
                await self._on_started(self)
            if self.consumers:
                self._backlog = asyncio.create_task(
                    self.backlog.run(self._jetstream, self.consumers), name="consumer-backlog"
                )
            self.started = True
            if self.owns_process:
                heap.settle()  # what lives from here on is out of the garbage collector's walks
            log.info("service_started", nats=self.settings.nats_url)

        return app


class Turns:
    """How many of one consumer's messages may be in a transaction at once. Where an operator sets
    `batch_size` over 1, FastStream hands a fetched batch to the handler all at once; on SQLite, with one writer at a
    time, the whole batch then queued at the write lock, and a message of another consumer came
    after all of it (a proposal's notification behind a batch of "request received" ones: from the
    matcher's publish to the notifier's handling, up to 377 ms on a quiet machine). So on
    SQLite a consumer takes one turn at a time, and every consumer gets the lock in turn; on
    PostgreSQL, where transactions on different rows run together, the batch still goes at once."""

    def __init__(self, engine: Engine) -> None:
        self.one_at_a_time = engine.dialect.name == "sqlite"
        self._turn = asyncio.Lock()
        self.queued = 0  # messages waiting for their turn

    async def __aenter__(self) -> None:
        if self.one_at_a_time:
            self.queued += 1
            try:
                await self._turn.acquire()
            finally:
                self.queued -= 1

    async def __aexit__(self, *exc: object) -> None:
        if self.one_at_a_time:
            self._turn.release()


def _call(use_case: Callable[[Session, Any], Any], msg: Message, session: Session) -> Any:
    return use_case(session, msg)


def _act(
    permit: Permit, use_case: Callable[[Session, Any, Actor], Any], cmd: Message, actor: Actor, session: Session
) -> Any:
    if permit.owner is not None:
        permit.owner(session, cmd, actor)
    return use_case(session, cmd, actor)


def run(service: Service) -> None:
    configure(service.name)
    service.owns_process = True
    anyio.run(service.app().run)
