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
from typing import Any, TypeVar

import nats
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel

from cli import identity
from shared import rpc
from shared.endpoints import Endpoint
from shared.messages import Message, Reply
from shared.nats import NatsServerError
from shared.nats import connect as nats_connect
from shared.settings import var_dir
from shared.tracing import configure_tracing

R = TypeVar("R", bound=BaseModel)
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

    def _signed(self, subject: str, message: BaseModel) -> BaseModel:
        if isinstance(message, Message) and message.proof is None:
            try:
                who = identity.current()
            except identity.IdentityError as err:
                raise ClientError(str(err)) from None
            return who.sign(subject, message) if who is not None else message
        return message

    async def call(self, subject: str, message: BaseModel, *, timeout: float | None = None) -> Reply[Any]:
        """The whole reply (a refusal too), `message` signed as the current identity."""
        try:
            return await rpc.request(self.nc, subject, self._signed(subject, message), timeout=timeout or self.timeout)
        except rpc.Unavailable as err:
            raise ClientError(_unavailable(err)) from None

    async def ask(self, endpoint: Endpoint[Any, R], message: BaseModel, *, timeout: float | None = None) -> R:
        """The endpoint's reply model; a refusal becomes a ClientError naming what is wrong."""
        try:
            return rpc.read(endpoint, await self.call(endpoint.subject, message, timeout=timeout))
        except rpc.Refused as err:
            raise ClientError(str(err)) from None
        except rpc.Unavailable as err:
            raise ClientError(_unavailable(err)) from None


def _unavailable(err: rpc.Unavailable) -> str:
    if err.why == "is not running":
        return f"the {err.service} service is not running (no responder on {err.subject})"
    if err.why == "did not answer in time":
        return f"the {err.service} service did not answer on {err.subject} in time"
    return f"the {err.service} service {err.why} (on {err.subject})"


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
