"""Traces with OpenTelemetry: on only when an exporter is configured, off (no-op) otherwise.

- `OTEL_EXPORTER_OTLP_ENDPOINT` (the standard variables): spans over OTLP/HTTP, batched.
- `EXPERTSHARE_TRACE_DIR`: spans as JSON lines, one file per process (one machine, the tests).

The trace context travels in the NATS headers (W3C `traceparent`, FastStream's
`NatsTelemetryMiddleware` on the broker; `trace_headers` for a plain nats-py request), beside the
correlation id. An event goes out through the outbox, later and from another task:
`remember_trace` keeps the context of the transaction that wrote it, and the relay publishes the
row under it (`published_under`). Background work caused by a message (the matcher's placement
and re-plan) runs `under` the context captured with the message.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_DIR_ENV = "EXPERTSHARE_TRACE_DIR"
_PROPAGATOR = TraceContextTextMapPropagator()


def tracing_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get(TRACE_DIR_ENV)
    )


def configure_tracing(service: str) -> Any:
    """The process's tracer provider, or None when tracing is off (no exporter configured)."""
    if not tracing_enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if os.environ.get(TRACE_DIR_ENV):
        provider.add_span_processor(SimpleSpanProcessor(_file_exporter(service)))
    trace.set_tracer_provider(provider)
    return provider


def _file_exporter(service: str) -> Any:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    d = Path(os.environ[TRACE_DIR_ENV])
    d.mkdir(parents=True, exist_ok=True)
    out = (d / f"{service}-{os.getpid()}.jsonl").open("a", encoding="utf-8")
    return ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")


def trace_headers() -> dict[str, str]:
    """The current trace context as NATS headers (empty when there is none): for a request sent
    with a plain nats-py client (the CLI, the portal)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


class _Traces:
    """The trace context of each event written to the outbox, until the relay publishes it:
    process-local and bounded (a row published by another copy or after a restart goes out
    without it: the trace stops there, the correlation id still follows)."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._by_event: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, event_id: str) -> None:
        carrier = trace_headers()
        if not carrier:
            return
        with self._lock:
            self._by_event[event_id] = carrier
            while len(self._by_event) > self.limit:
                self._by_event.popitem(last=False)

    def take(self, event_id: str) -> dict[str, str] | None:
        with self._lock:
            return self._by_event.pop(event_id, None)


TRACES = _Traces()


def remember_trace(event_id: str) -> None:
    TRACES.remember(event_id)


@contextlib.contextmanager
def published_under(event_id: str) -> Iterator[None]:
    """Publish the outbox row `event_id` under the trace of the transaction that wrote it."""
    carrier = TRACES.take(event_id)
    if not carrier:
        yield
        return
    token = otel_context.attach(_PROPAGATOR.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def under(ctx: Any) -> Iterator[None]:
    """Run a block under a captured OpenTelemetry context (background work caused by a message)."""
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


def current_context() -> Any:
    return otel_context.get_current()
