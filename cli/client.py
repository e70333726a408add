"""The CLI's NATS client: request-reply to the running services, nothing else.

The server is found from `NATS_URL`, else from `var/nats.url`, which `expertshare up` writes
when it starts its embedded server (on 4222, or on the free port it picked).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import trace
from pydantic import BaseModel

from cli import identity
from shared.messages import Message, Reply
from shared.nats import NatsServerError
from shared.nats import connect as nats_connect
from shared.settings import var_dir
from shared.tracing import configure_tracing, trace_headers

_TRACER = trace.get_tracer("expertshare.cli")
_tracing: list[Any] = []  # the process's tracer provider, made once (shared.tracing)


class ClientError(RuntimeError):
    """Something the user must fix or wait for: the message says which."""


def nats_url() -> str:
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    saved = var_dir() / "nats.url"
    if saved.exists():
        return saved.read_text().strip()
    return "nats://127.0.0.1:4222"


class Client:
    """Request-reply with the services; every message signed as the current identity
    (`cli.identity`), when there is one (without, queries still work and commands are refused)."""

    def __init__(self, nc: Any, timeout: float) -> None:
        self.nc = nc
        self.timeout = timeout

    async def call(self, subject: str, message: BaseModel, *, timeout: float | None = None) -> Reply:
        if isinstance(message, Message) and message.proof is None:
            try:
                who = identity.current()
            except identity.IdentityError as err:
                raise ClientError(str(err)) from None
            message = who.sign(subject, message) if who is not None else message
        payload = message.model_dump_json(by_alias=True).encode()
        service = subject.split(".")[0]
        try:
            # One trace from here through every service (when tracing is on: shared.tracing).
            with _TRACER.start_as_current_span(f"{subject} request", kind=trace.SpanKind.CLIENT):
                msg = await self.nc.request(
                    subject, payload, timeout=timeout or self.timeout, headers=trace_headers() or None
                )
        except NoRespondersError:
            raise ClientError(f"the {service} service is not running (no responder on {subject})") from None
        except NatsTimeout:
            raise ClientError(f"the {service} service did not answer on {subject} in time") from None
        try:
            return Reply.model_validate_json(msg.data)
        except ValueError:
            raise ClientError(f"unexpected answer on {subject}: {msg.data[:200]!r}") from None

    async def ok(self, subject: str, message: BaseModel, *, timeout: float | None = None) -> dict[str, Any]:
        """Call and return the data; a refusal becomes a ClientError naming what is wrong."""
        reply = await self.call(subject, message, timeout=timeout)
        if not reply.ok:
            fields = reply.field_errors
            if len(fields) == 1 and fields[0].message == reply.error:
                raise ClientError(f"{fields[0].field}: {fields[0].message}")
            details = "; ".join(f"{f.field}: {f.message}" for f in fields)
            said = reply.error or ""
            raise ClientError(said if not details or details in said else f"{said} ({details})")
        return reply.data or {}


@asynccontextmanager
async def connect(
    url: str | None = None, *, timeout: float = 10.0, nats_identity: str = "cli"
) -> AsyncIterator[Client]:
    """Signed into NATS as `nats_identity` (the CLI's own, or `up`'s admin); commands are signed
    as the person `cli.identity` names."""
    target = url or nats_url()
    if not _tracing:
        _tracing.append(configure_tracing("cli"))
    try:
        nc = await nats_connect(
            target, nats_identity, connect_timeout=3, max_reconnect_attempts=2, allow_reconnect=True
        )
    except NatsServerError as err:
        raise ClientError(str(err)) from None
    except (OSError, NatsTimeout, nats.errors.NoServersError) as err:
        raise ClientError(f"cannot reach NATS at {target}: is the system running (make run)? ({err})") from None
    try:
        yield Client(nc, timeout)
    finally:
        await nc.drain()
        if _tracing[0] is not None:
            _tracing[0].force_flush()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
