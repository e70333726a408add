"""The one request-reply client: the CLI (`cli.client`) and the portal (`services.portal.bus`)
both ask the services through it, each adding only who signs.

`ask` sends a request to an `Endpoint` and returns its reply model; a refusal raises `Refused`
(the reply's error and the fields it names), a service that is not there or too slow raises
`Unavailable`. `request` returns the whole `Reply` for a caller that shows refusals itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from shared.endpoints import Endpoint
from shared.messages import Reply
from shared.tracing import trace_headers

_TRACER = trace.get_tracer("expertshare.rpc")
R = TypeVar("R", bound=BaseModel)


class Unavailable(RuntimeError):
    """The service did not answer: not running, too slow, or its answer was not a reply."""

    def __init__(self, service: str, subject: str, why: str) -> None:
        super().__init__(f"the {service} service {why}")
        self.service, self.subject, self.why = service, subject, why


class Refused(RuntimeError):
    """The service answered no; the message names the fields it refused."""

    def __init__(self, reply: Reply[Any]) -> None:
        self.reply = reply
        super().__init__(explain(reply))


def explain(reply: Reply[Any]) -> str:
    """A refusal in one line: the error, and the fields it names when it does not say them."""
    fields = reply.field_errors
    if len(fields) == 1 and fields[0].message == reply.error:
        return f"{fields[0].field}: {fields[0].message}"
    details = "; ".join(f"{f.field}: {f.message}" for f in fields)
    said = reply.error or ""
    return said if not details or details in said else f"{said} ({details})"


async def request(nc: Any, subject: str, message: BaseModel, *, timeout: float) -> Reply[Any]:
    """Send `message` on `subject` and return the service's reply, whatever it says."""
    service = subject.split(".")[0]
    payload = message.model_dump_json(by_alias=True).encode()
    try:
        # One trace from the caller through every service (when tracing is on: shared.tracing).
        with _TRACER.start_as_current_span(f"{subject} request", kind=trace.SpanKind.CLIENT):
            msg = await nc.request(subject, payload, timeout=timeout, headers=trace_headers() or None)
    except NoRespondersError:
        raise Unavailable(service, subject, "is not running") from None
    except NatsTimeout:
        raise Unavailable(service, subject, "did not answer in time") from None
    try:
        return Reply.model_validate_json(msg.data)
    except ValidationError:
        raise Unavailable(service, subject, f"gave an unexpected answer: {msg.data[:200]!r}") from None


def read(endpoint: Endpoint[Any, R], reply: Reply[Any]) -> R:
    """The reply's data as the endpoint's reply model (`Refused` when the reply is a refusal)."""
    if not reply.ok:
        raise Refused(reply)
    data = reply.data
    if isinstance(data, endpoint.reply):
        return data
    try:
        return endpoint.reply.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise Unavailable(endpoint.owner, endpoint.subject, f"gave an unexpected answer: {err}") from None


async def ask(nc: Any, endpoint: Endpoint[Any, R], message: BaseModel, *, timeout: float) -> R:
    """Send `message` to `endpoint` and return its reply model."""
    return read(endpoint, await request(nc, endpoint.subject, message, timeout=timeout))
