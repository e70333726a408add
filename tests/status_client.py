"""What the in-process harness and the e2e system have in common: request-reply calls to the
running services, and polling their status until a condition holds."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

from shared import endpoints as E
from shared import rpc
from shared.endpoints import Endpoint
from shared.messages import GetContractsStatus, GetRequests, Message, Reply
from tests import people

R = TypeVar("R", bound=BaseModel)


def typed(endpoint: Endpoint[Any, R], reply: Reply[Any]) -> R:
    """`reply`'s data as the endpoint's reply model, which must give back the JSON the service
    sent, key for key (the typed reply keeps the shape the untyped one had)."""
    view = rpc.read(endpoint, reply)
    assert view.model_dump(mode="json") == reply.data, f"{endpoint.subject}: the reply model changes its JSON"
    return view


class StatusClient:
    """Mixed into a harness that sets `nc`; the class attributes set its patience."""

    nc: NatsClient
    call_s: float = 10.0
    until_s: float = 60.0
    poll_s: float = 0.2

    async def call(
        self, subject: str, message: BaseModel | bytes, timeout: float | None = None, *, as_: Any = None
    ) -> Reply:
        """A message is signed (`tests.people`): by `as_`, else by whom `people.signer_for` names;
        bytes go as they are."""
        if isinstance(message, Message) and message.proof is None:
            message = (as_ or people.signer_for(subject, message)).sign(subject, message)
        data = message if isinstance(message, bytes) else message.model_dump_json(by_alias=True).encode()
        msg = await self.nc.request(subject, data, timeout=timeout or self.call_s)
        return Reply.model_validate_json(msg.data)

    async def ok(
        self, subject: str, message: BaseModel, timeout: float | None = None, *, as_: Any = None
    ) -> dict[str, Any]:
        reply = await self.call(subject, message, timeout, as_=as_)
        assert reply.ok, reply.error
        return reply.data or {}

    async def ask(
        self, endpoint: Endpoint[Any, R], message: BaseModel, timeout: float | None = None, *, as_: Any = None
    ) -> R:
        """The endpoint's reply model (a refusal fails the test), checked to be exactly what the
        service sent: the model read back gives the same JSON (`typed`)."""
        reply = await self.call(endpoint.subject, message, timeout, as_=as_)
        assert reply.ok, reply.error
        return typed(endpoint, reply)

    async def status(self) -> dict[str, Any]:
        """Both services' status as JSON (the matcher's read as its `MatcherStatus`)."""
        return {
            "matcher": (await self.ask(E.MATCHER_STATUS, GetRequests())).model_dump(mode="json"),
            "contracts": (await self.ask(E.CONTRACTS_STATUS, GetContractsStatus())).model_dump(mode="json"),
        }

    async def until(self, predicate: Any, timeout: float | None = None, what: str = "condition") -> Any:
        """Poll `predicate(status)` until it returns something truthy."""
        deadline = time.monotonic() + (timeout or self.until_s)
        last: Any = None
        while time.monotonic() < deadline:
            last = await self.status()
            found = predicate(last)
            if found:
                return found
            await asyncio.sleep(self.poll_s)
        raise AssertionError(f"timed out waiting for {what}; last status:\n{json.dumps(last, indent=1)[:4000]}")
