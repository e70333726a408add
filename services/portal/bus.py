"""The portal's only way to the other services: NATS request-reply (queries and commands).

The portal holds no copy of requests, assignments or contracts: each page asks the owner.
"""

from __future__ import annotations

from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel

from shared import subjects as s
from shared.messages import FieldError, GetAudit, GetStatus, Reply
from shared.nats import connect, connection_callbacks


class Unavailable(RuntimeError):
    """A service did not answer: the page says so instead of failing."""


class Bus:
    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.nc: Any = None

    async def connect(self) -> None:
        # Keep reconnecting through a NATS restart (nats-py gives up after 60 tries by default).
        self.nc = await connect(self.url, "portal", max_reconnect_attempts=-1, reconnect_time_wait=1,
                                **connection_callbacks("portal"))

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.drain()

    async def call(self, subject: str, message: BaseModel) -> Reply:
        service = subject.split(".")[0]
        try:
            msg = await self.nc.request(subject, message.model_dump_json().encode(), timeout=self.timeout)
        except NoRespondersError:
            raise Unavailable(f"the {service} service is not running") from None
        except NatsTimeout:
            raise Unavailable(f"the {service} service did not answer in time") from None
        return Reply.model_validate_json(msg.data)

    async def data(self, subject: str, message: BaseModel) -> dict[str, Any]:
        reply = await self.call(subject, message)
        if not reply.ok:
            raise Unavailable(reply.error or f"{subject} refused")
        return reply.data or {}

    async def matcher_status(self, **filters: Any) -> dict[str, Any]:
        return await self.data(s.MATCHER_STATUS_GET, GetStatus(**filters))

    async def contracts_status(self, **filters: Any) -> dict[str, Any]:
        return await self.data(s.CONTRACTS_STATUS_GET, GetStatus(**filters))

    async def audit(self, subject: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        return (await self.data(s.AUDIT_GET, GetAudit(subject=subject, limit=limit)))["entries"]

    async def reference(self) -> dict[str, Any]:
        from shared.messages import GetReference

        return await self.data(s.REFERENCE_GET, GetReference())


def errors_by_field(reply: Reply) -> dict[str, str]:
    """A refusal as {field: message}, the field's last dotted part (`request.hours` -> `hours`)."""
    out: dict[str, str] = {}
    for fe in reply.field_errors:
        out[fe.field.split(".")[-1] if fe.field else "_"] = fe.message
    if not out and reply.error:
        out["_"] = reply.error
    return out


__all__ = ["Bus", "FieldError", "Unavailable", "errors_by_field"]
