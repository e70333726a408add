"""One trace follows a request from the CLI, or the portal's form, through the matcher, contracts
and the notifier; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, every service exports its spans over
OTLP/HTTP (to a receiver of this test's own).

The services run as in production, each its own process, with tracing on: each writes its spans
as JSON lines (`EXPERTSHARE_TRACE_DIR`, `shared.tracing`); the CLI's client runs here with an
in-memory exporter. The trace context travels in the NATS headers, through each service's outbox
and the matcher's background placement: the spans the submission causes in every service carry
the trace id of the CLI's span.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cli import client as cli_client
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared import subjects as s
from shared.nats import free_port, start_nats
from shared.tracing import TRACE_DIR_ENV
from tests.e2e import flow
from tests.e2e.portal import Browser, add_users, start_portal
from tests.e2e.system import SERVICES, System

pytestmark = pytest.mark.slow


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[System]:
    server = start_nats(tmp_path / "nats", free_port())
    try:
        async with System(server.url, tmp_path / "var", {TRACE_DIR_ENV: str(tmp_path / "traces")}) as sys_:
            yield sys_
    finally:
        server.stop()


def spans(trace_dir: Path) -> list[dict[str, Any]]:
    out = []
    for f in trace_dir.glob("*.jsonl"):
        out += [json.loads(x) for x in f.read_text().splitlines() if x.startswith("{")]
    return out


async def reached(trace_dir: Path, trace_id: str, timeout: float = 30.0) -> dict[str, set[str]]:
    """The trace's spans by service, once the proposal reached contracts and the notifier."""
    deadline = time.monotonic() + timeout
    while True:
        seen = services_in(spans(trace_dir), trace_id)
        if (
            set(SERVICES) <= set(seen)
            and any(s.ASSIGNMENT_PROPOSED in n for n in seen.get("contracts", ()))
            and any(s.ASSIGNMENT_PROPOSED in n for n in seen.get("notifier", ()))
        ):
            return seen
        assert time.monotonic() < deadline, f"the trace reached only {seen}"
        await asyncio.sleep(0.2)


def services_in(found: list[dict[str, Any]], trace_id: str) -> dict[str, set[str]]:
    """The services that have spans in the trace, with their spans' names."""
    by: dict[str, set[str]] = {}
    for span in found:
        if span["context"]["trace_id"] == trace_id:
            by.setdefault(span["resource"]["attributes"]["service.name"], set()).add(span["name"])
    return by


async def test_one_trace_follows_a_request_from_the_cli_through_every_service(
    traced: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await flow.load_reference(traced, n_experts=2)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(rpc, "_TRACER", provider.get_tracer("expertshare.cli"))

    cli = cli_client.Client(traced.nc, 30)
    await cli.ask(E.REQUEST_SUBMIT, m.SubmitRequest(request=flow.request("r1"), by="commune officer"))
    (root,) = exporter.get_finished_spans()
    trace_id = f"0x{root.context.trace_id:032x}"
    await flow.proposal_for(traced, "r1")

    seen = await reached(tmp_path / "traces", trace_id)
    # the command, its event, and the proposal the placement made in the background: one trace
    assert any(s.REQUEST_SUBMIT in n and "process" in n for n in seen["matcher"]), seen["matcher"]
    assert any(s.REQUEST_SUBMITTED in n for n in seen["notifier"]), seen["notifier"]
    assert any(s.ASSIGNMENT_PROPOSED in n and "publish" in n for n in seen["matcher"]), seen["matcher"]


async def test_one_trace_follows_a_request_from_the_portals_form_through_every_service(
    traced: System, tmp_path: Path
) -> None:
    await flow.load_reference(traced, n_experts=2)
    base = await start_portal(traced)
    add_users(traced)
    commune = Browser(base)
    try:
        assert (await commune.sign_in("xa-thuonglam")).status_code == 200
        made = await commune.submit(
            "/requests/new",
            "/requests",
            {
                "title": "Cài chữ ký số cho bộ phận một cửa",
                "skill": "digital_signature",
                "level": "2",
                "mode": "remote",
                "hours": "4",
                "priority": "4",
                "deadline": flow.request("x")["deadline"],
            },
        )
        assert made.status_code == 200, made.text[:300]
    finally:
        await commune.close()
    posted = [
        x
        for x in spans(tmp_path / "traces")
        if x["resource"]["attributes"]["service.name"] == "portal"
        and x["name"] == "POST /requests"
        and x["kind"] == "SpanKind.SERVER"
    ]
    assert len(posted) == 1, [x["name"] for x in spans(tmp_path / "traces")][:30]
    seen = await reached(tmp_path / "traces", posted[0]["context"]["trace_id"])
    assert any(s.REQUEST_SUBMIT in n and "process" in n for n in seen["matcher"]), seen["matcher"]


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP receiver: what the services export, as (service, trace id hex, span name)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                    receiver.received += [
                        (service, x.trace_id.hex(), x.name) for ss in rs.scope_spans for x in ss.spans
                    ]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)


async def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = start_nats(tmp_path / "nats", free_port())
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_port}", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    try:
        async with System(server.url, tmp_path / "var", env) as system:
            await flow.load_reference(system, n_experts=2)
            provider = TracerProvider()
            exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            monkeypatch.setattr(rpc, "_TRACER", provider.get_tracer("expertshare.cli"))
            await cli_client.Client(system.nc, 30).ask(
                E.REQUEST_SUBMIT, m.SubmitRequest(request=flow.request("r1"), by="commune officer")
            )
            (root,) = exporter.get_finished_spans()
            trace_id = f"{root.context.trace_id:032x}"
            deadline = time.monotonic() + 30
            while {svc for svc, t, _ in receiver.received if t == trace_id} != set(SERVICES):
                assert time.monotonic() < deadline, f"received only {set(receiver.received)}"
                await asyncio.sleep(0.2)
    finally:
        server.stop()
        receiver.shutdown()
        receiver.server_close()
