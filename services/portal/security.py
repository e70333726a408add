"""What the portal does to every request and response, whoever sends it, before any page runs.

- Headers on every response, the server's own errors included (`SecurityHeaders` wraps the whole
  application): a Content-Security-Policy that runs no inline script or style and no frame
  (the templates carry none: style.css is the only style), nosniff, same-origin referrers, DENY.
- JSON bodies are read strictly (`StrictJson`): not UTF-8, NaN or Infinity (Python's json takes
  them, JSON has none), a lone surrogate (`\\ud800`: a string no encoder can write back), nesting
  deeper than `MAX_DEPTH`: 400 naming the problem, never a 500 further in. The body is already
  capped by then (FastAPI's `max_body_size`: 413 before it is read), so reading it here is bounded.
- A validation error names the field and the problem and never echoes what was sent
  (`validation_failed`): FastAPI's default repeats every input, 314 MB of it for a 50 MB body.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.portal import vocabulary

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: Deeper JSON than any body of the API (the deepest is two) is an attack or a mistake.
MAX_DEPTH = 32
#: A validation message longer than this is cut: it names a problem, it does not carry data.
MAX_MESSAGE = 300


class SecurityHeaders:
    """Adds the headers to every HTTP response; a response that set its own CSP (the API docs'
    page) keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StrictJson:
    """Reads a JSON body in full (bounded by the body cap outside it), refuses what JSON does not
    allow with 400, and hands the same bytes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(Headers(scope=scope).get("content-type", "")):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_problem(body)
        if problem is not None:
            await JSONResponse({"detail": problem}, status_code=400)(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        assert then is not None
        return await then()  # after the body: the disconnect, when it comes

    return receive


def json_problem(body: bytes) -> str | None:
    """What makes `body` unacceptable JSON, or None (also for plain bad syntax: the route's
    validation names where it is)."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"the body is not UTF-8 (a bad byte at {err.start})"
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except _Constant as err:
        return f"{err} is not a number in JSON"
    except RecursionError:
        return f"the JSON is nested deeper than {MAX_DEPTH}"
    except ValueError:
        return None
    return _walk(value)


class _Constant(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Constant(name)


def _walk(value: Any) -> str | None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the JSON is nested deeper than {MAX_DEPTH}"
        if isinstance(item, str):
            if not _encodable(item):
                return "a string holds a lone surrogate (\\ud800-\\udfff), which is not a character"
        elif isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    """422 with each problem as {field, message}: the field's path and pydantic's message (which
    names the rule, never the value), never the input itself."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_problem(e) for e in exc.errors()[:50]]}, status_code=422)


def _problem(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        reason = str((error.get("ctx") or {}).get("error", ""))
        return {"field": "body", "message": f"not valid JSON: {reason}"[:MAX_MESSAGE]}
    field = ".".join(loc[1:] if loc[:1] == ["body"] and len(loc) > 1 else loc)
    said = vocabulary.validation(loc[-1] if loc else field, error)  # the field named, in Vietnamese too
    return {
        "field": field[:MAX_MESSAGE],
        "message": str(error.get("msg", "invalid"))[:MAX_MESSAGE],
        "message_vi": str(said)[:MAX_MESSAGE],
    }
