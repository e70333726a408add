"""What operators see of a service: Prometheus metrics and `/healthz`.

- One `CollectorRegistry` per service, filled by FastStream's `NatsPrometheusMiddleware`
  (messages received, processed, failed, durations, publishes), by the counters a service keeps
  (dead letters), by `ConsumerBacklog` (its consumers' backlog, asked of JetStream), and at each
  scrape by `DomainCollector`, which reads the service's own database (requests by status,
  proposals waiting, the last plan, the outbox...): the numbers are the database's, so every copy
  of a service reports the same ones and a restart loses nothing.
- `/metrics` and `/healthz` are served by `MetricsServer` on a port of the service's own
  (`<SERVICE>_METRICS_PORT`, 0 = a free one on loopback); the address is written to
  `var/metrics/<service>.url`, where `expertshare up` and `status --health` find it.
Nothing here knows a service's rules; the services hand their gauges in as functions.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from shared.clock import utcnow

log = structlog.get_logger("metrics")
PREFIX = "expertshare"


def dead_letter_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        f"{PREFIX}_dead_letters",
        "Messages dead-lettered, by service and reason",
        ["service", "reason"],
        registry=registry,
    )


Gauges = Callable[[Any], Iterable[Metric]]


class DomainCollector(Collector):
    """Reads the service's database at each scrape (`sources(session)` yield metric families).
    A source that fails is logged and skipped: the others and the library's metrics still come."""

    def __init__(self, open_session: Callable[[], Any], sources: list[Gauges]) -> None:
        self.open_session, self.sources = open_session, sources

    def collect(self) -> Iterator[Metric]:
        with self.open_session() as session:
            for source in self.sources:
                try:
                    yield from list(source(session))
                except Exception as err:  # noqa: BLE001 - one failing gauge must not hide the rest
                    log.warning(
                        "metrics_source_failed",
                        source=getattr(source, "__name__", "?"),
                        error=f"{type(err).__name__}: {err}"[:300],
                    )


def age_seconds(then: dt.datetime | None, now: dt.datetime | None = None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite returns naive datetimes: they were written in UTC
        then = then.replace(tzinfo=dt.UTC)
    return max(0.0, ((now or utcnow()) - then).total_seconds())


class MetricsServer:
    """`/metrics` (Prometheus' text format) and `/healthz` (200 once `ready()`, 503 before) in a
    thread of their own: a scrape never waits for the event loop, and works while it is busy."""

    def __init__(self, service: str, registry: CollectorRegistry, ready: Callable[[], bool]) -> None:
        self.service, self.registry, self.ready = service, registry, ready
        self._server: ThreadingWSGIServer | None = None
        self.address = ""
        # Prometheus scrapes /metrics, not /healthz: readiness is a metric too (the alert's).
        Gauge(
            f"{PREFIX}_ready",
            "1 when every subscriber is started and the broker connected",
            ["service"],
            registry=registry,
        ).labels(service).set_function(lambda: float(self.ready()))

    def _app(self) -> Callable[..., Any]:
        metrics = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                ok = self.ready()
                start_response(
                    "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")]
                )
                return [f"{self.service} {'ready' if ok else 'starting'}\n".encode()]
            return metrics(environ, start_response)

        return app

    def start(self, host: str, port: int) -> str:
        self._server = make_server(host, port, self._app(), ThreadingWSGIServer, handler_class=_SilentHandler)
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        self.address = f"http://{host}:{self._server.server_port}"
        where = metrics_url_file(self.service)
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(self.address)
        log.info("metrics_listening", address=self.address)
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def metrics_url_file(service: str) -> Path:
    from shared.settings import var_dir

    return var_dir() / "metrics" / f"{service}.url"


def outbox_gauges(service: str, session: Any) -> Iterator[Metric]:
    """Every service's outbox: rows committed and not yet published, and the oldest one's age
    (a backlog that grows, or an oldest row that keeps ageing, is a relay that cannot publish)."""
    from prometheus_client.core import GaugeMetricFamily
    from sqlalchemy import func
    from sqlmodel import col, select

    from shared.db import OutboxRow

    count, oldest = session.exec(
        select(func.count(), func.min(OutboxRow.created_at)).where(col(OutboxRow.published_at).is_(None))
    ).one()
    backlog = GaugeMetricFamily(f"{PREFIX}_outbox_backlog", "Outbox rows not yet published", labels=["service"])
    backlog.add_metric([service], count)
    age = GaugeMetricFamily(
        f"{PREFIX}_outbox_oldest_seconds", "Age of the oldest unpublished outbox row", labels=["service"]
    )
    age.add_metric([service], age_seconds(oldest))
    yield backlog
    yield age


class EventTiming:
    """Where an event's time went, per consumer (`expertshare_event_seconds{consumer, stage}`):
    `delivered`, from the stream storing it to its handling starting here (the server, the pull,
    the parse); `turn`, waiting for the consumer's turn at the database (`shared.service.Turns`);
    `handled`, its transaction (the database's own lock included). One whose turn and transaction
    took over `SLOW_S` is logged (`event_slow`) with the three. A late delivery alone is not: after
    a burst (a country's load) every event of a backlog waits in the stream, and the histogram
    shows that without a line per event."""

    SLOW_S = 0.1
    BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            f"{PREFIX}_event_seconds",
            "An event's time in this service by stage: delivered (stream to handler), turn, handled",
            ["consumer", "stage"],
            buckets=self.BUCKETS,
            registry=registry,
        )

    def observe(self, consumer: str, delivered: float | None, turn: float, handled: float) -> None:
        stages = (
            {"turn": turn, "handled": handled}
            if delivered is None
            else {"delivered": delivered, "turn": turn, "handled": handled}
        )
        for stage, seconds in stages.items():
            self.seconds.labels(consumer, stage).observe(seconds)
        if turn + handled > self.SLOW_S:
            log.info("event_slow", consumer=consumer, **{k: round(v, 3) for k, v in stages.items()})


class ConsumerBacklog:
    """The backlog of a service's durable consumers, asked of JetStream every `every_s` by the
    service itself (its identity may read its own consumers' info; the CLI's may not): messages
    not yet delivered, delivered and not yet acknowledged, and redelivered. What `status
    --health` shows without Prometheus (which reads the same from the NATS exporter)."""

    def __init__(self, service: str, registry: CollectorRegistry, every_s: float) -> None:
        labels = ["service", "stream", "consumer"]
        self.service, self.every_s = service, every_s
        self.pending = Gauge(
            f"{PREFIX}_consumer_pending", "Messages not yet delivered to a durable consumer", labels, registry=registry
        )
        self.ack_pending = Gauge(
            f"{PREFIX}_consumer_ack_pending", "Messages delivered and not yet acknowledged", labels, registry=registry
        )
        self.redelivered = Gauge(
            f"{PREFIX}_consumer_redelivered",
            "Messages delivered more than once, not yet acknowledged",
            labels,
            registry=registry,
        )

    async def run(self, jetstream: Callable[[], Any], consumers: list[Any]) -> None:
        import asyncio

        while True:
            js = jetstream()
            for c in consumers if js is not None else ():
                try:
                    info = await js.consumer_info(c.stream, c.durable, timeout=5)
                except Exception as err:  # noqa: BLE001 - NATS away or electing: asked again next round
                    log.debug("consumer_info_failed", consumer=c.durable, error=f"{type(err).__name__}: {err}")
                    continue
                key = (self.service, c.stream, c.durable)
                self.pending.labels(*key).set(info.num_pending or 0)
                self.ack_pending.labels(*key).set(info.num_ack_pending or 0)
                self.redelivered.labels(*key).set(info.num_redelivered or 0)
            await asyncio.sleep(self.every_s)
