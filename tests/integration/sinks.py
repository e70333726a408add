"""Real servers on loopback for the notifier's channels: an SMTP server (aiosmtpd) and an HTTP
server (the standard library's), each keeping what it received and behaving as a test asks."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from shared.nats import free_port


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpSink:
    """aiosmtpd on 127.0.0.1, in its own thread: the real SMTP conversation, mail kept in memory."""

    def __init__(self, port: int | None = None) -> None:
        self.box = _Mailbox()
        self.port = port or free_port()
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.box.messages

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """A threading HTTP server on 127.0.0.1. `behaviour[path]` is a status code to answer with, or
    ("sleep", seconds) to stall before answering 200; unknown paths answer 200."""

    received: list[Received] = field(default_factory=list)
    behaviour: dict[str, Any] = field(default_factory=dict)

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.received.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
                how = sink.behaviour.get(self.path, 200)
                if isinstance(how, tuple):
                    time.sleep(how[1])
                    how = 200
                try:
                    self.send_response(how)
                    self.end_headers()
                    self.wfile.write(b"ok" if how < 300 else b"no")
                except OSError:
                    pass  # the client gave up waiting: what a slow server sees

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
