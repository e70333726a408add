"""shared.metrics and shared.tracing without a running system: /healthz follows readiness, /metrics serves the
registry, a dead letter's reason becomes a label of few values, and the outbox's trace contexts
are kept per event, bounded, and handed back once."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter

from shared.messages import DeadKind, DeadLetter
from shared.metrics import MetricsServer, metrics_url_file
from shared.tracing import _Traces, published_under, trace_headers


def test_healthz_is_503_until_ready_and_metrics_serve_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPERTSHARE_VAR", str(tmp_path))
    registry = CollectorRegistry()
    Counter("expertshare_things", "things", registry=registry).inc(3)
    state = {"ready": False}
    server = MetricsServer("matcher", registry, lambda: state["ready"])
    address = server.start("127.0.0.1", 0)
    try:
        assert metrics_url_file("matcher").read_text() == address
        starting = httpx.get(f"{address}/healthz", timeout=5)
        assert starting.status_code == 503 and starting.text == "matcher starting\n"
        state["ready"] = True
        assert httpx.get(f"{address}/healthz", timeout=5).status_code == 200
        text = httpx.get(f"{address}/metrics", timeout=5).text
        assert "expertshare_things_total 3.0" in text
        assert 'expertshare_ready{service="matcher"} 1.0' in text
    finally:
        server.stop()


def test_a_dead_letter_says_its_kind_as_data() -> None:
    """The metrics label a dead letter by its kind (one of four), which the middleware sets from
    what went wrong, not from the reason's words; a letter of an earlier version, without one, reads
    as invalid."""
    assert set(get_args(DeadKind)) == {"invalid", "refused", "unknown", "failed"}
    old = {"service": "matcher", "subject": "s", "reason": "refused: by its words", "payload": "{}"}
    assert DeadLetter.model_validate(old).kind == "invalid"


def test_the_trace_of_an_outbox_row_is_kept_until_it_is_published_and_bounded() -> None:
    tracer = TracerProvider().get_tracer("test")
    traces = _Traces(limit=2)
    traces.remember("e0")  # no span: nothing to keep
    assert traces.take("e0") is None
    with tracer.start_as_current_span("handling") as span:
        for event_id in ("e1", "e2", "e3"):
            traces.remember(event_id)
    assert traces.take("e1") is None, "the oldest went when the limit was passed"
    carrier = traces.take("e3")
    assert carrier and f"{span.get_span_context().trace_id:032x}" in carrier["traceparent"]
    assert traces.take("e3") is None, "handed back once"


def test_published_under_restores_the_writers_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import tracing as observe

    tracer = TracerProvider().get_tracer("test")
    traces = _Traces()
    monkeypatch.setattr(observe, "TRACES", traces)
    with tracer.start_as_current_span("handling") as span:
        traces.remember("e1")
    assert trace_headers() == {}, "nothing current out here"
    with published_under("e1"):
        assert trace.get_current_span().get_span_context().trace_id == span.get_span_context().trace_id
        assert trace_headers()["traceparent"].split("-")[1] == f"{span.get_span_context().trace_id:032x}"
    assert trace_headers() == {}
