"""The external channels: one port (`Channel.send`) and its real adapters, email over SMTP and a
signed webhook. The inbox is not here: it is written in the consuming handler's transaction.

Every send is bounded by the channel's timeout as a whole (connecting, talking, reading the
answer), so a stalled server costs one slot of the worker for at most that long. A failure is a
`ChannelError`; `permanent` ones (no address, a 5xx from SMTP, a 4xx from the endpoint) are not
worth retrying until someone changes something, the others are retried with backoff. Its reason
names the host and the status (`HTTP 405 Method Not Allowed`), never what the server answered:
reasons are stored and shown to staff, and a body is whatever the other side chose to say.
A webhook only ever reaches a public address (`addresses.py`).

Webhook contract, for whoever runs the SMS or chat gateway:
- `POST <url>` with a JSON body (`kind`, `party`, `language`, `subject`, `text`, `notification_id`,
  `source_event_id`, `delivery`, `created_at`);
- `X-Expertshare-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body with the endpoint's secret
  (compare with `hmac.compare_digest`; `verify` below does it);
- `X-Expertshare-Delivery: <key>`: the same on every retry of one send, so a receiver can drop a
  repeat (a crash after the server answered but before the send was recorded means one resend);
- any 2xx answer counts as delivered. Email carries the same key as its Message-ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from email.message import EmailMessage
from http import HTTPStatus
from typing import Protocol

import aiosmtplib
import httpx

from services.notifier.addresses import Refused, resolve
from shared.limits import clip

SIGNATURE_HEADER = "X-Expertshare-Signature"
DELIVERY_HEADER = "X-Expertshare-Delivery"


@dataclass(frozen=True)
class Outgoing:
    """What one send carries, with the party's address as it is when the send is tried."""

    key: str
    kind: str
    subject: str
    text: str
    html: str
    payload: bytes
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


class ChannelError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, out: Outgoing) -> None: ...


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username or None, password or None
        self.starttls, self.timeout = starttls, timeout

    def message(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = out.email or ""
        msg["Subject"] = out.subject
        msg["Message-ID"] = f"<{out.key.replace(':', '.')}@expertshare>"
        msg.set_content(out.text)
        msg.add_alternative(out.html, subtype="html")
        return msg

    async def send(self, out: Outgoing) -> None:
        if not self.host:
            raise ChannelError("email is not configured (NOTIFIER_SMTP_HOST is empty)", permanent=True)
        if not out.email:
            raise ChannelError("the party has no email address in its preferences", permanent=True)
        try:
            async with asyncio.timeout(self.timeout):
                await aiosmtplib.send(
                    self.message(out),
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=self.password,
                    start_tls=self.starttls,
                    timeout=self.timeout,
                )
        except TimeoutError:
            raise ChannelError(
                f"SMTP server {self.host}:{self.port} did not finish within {self.timeout:g} s"
            ) from None
        except aiosmtplib.SMTPResponseException as err:
            raise ChannelError(f"SMTP server refused: {err.code} {err.message}", permanent=err.code >= 500) from None
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise ChannelError(f"SMTP server refused the recipient: {err.recipients}", permanent=True) from None
        except (aiosmtplib.SMTPException, OSError) as err:
            raise ChannelError(f"SMTP {self.host}:{self.port}: {type(err).__name__}: {err}") from None


class WebhookChannel:
    name = "webhook"

    def __init__(self, timeout: float = 10.0, *, allow_private: bool = False) -> None:
        self.timeout = timeout
        self.allow_private = allow_private

    async def send(self, out: Outgoing) -> None:
        if not out.webhook_url or not out.webhook_secret:
            raise ChannelError(
                "the party has no webhook url and secret in its preferences (or its secret was "
                "sealed under another NOTIFIER_SECRET_KEY: set it again)",
                permanent=True,
            )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: out.key,
            SIGNATURE_HEADER: sign(out.webhook_secret, out.payload),
        }
        url = httpx.URL(out.webhook_url)
        try:
            async with asyncio.timeout(self.timeout):
                host, ip = await resolve(out.webhook_url, allow_private=self.allow_private)
                # To the address just checked, naming the host as the URL does (Host, TLS name):
                # a second resolution by the client could answer otherwise (DNS rebinding).
                headers["Host"] = url.netloc.decode("ascii")
                async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                    resp = await client.post(
                        url.copy_with(host=str(ip)),
                        content=out.payload,
                        headers=headers,
                        extensions={"sni_hostname": host} if url.scheme == "https" else {},
                    )
        except Refused as err:
            raise ChannelError(f"webhook refused: {err}", permanent=True) from None
        except (TimeoutError, httpx.TimeoutException):
            raise ChannelError(f"webhook {url.host} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as err:
            raise ChannelError(clip(f"webhook {url.host}: {type(err).__name__}: {err}", 300)) from None
        if 200 <= resp.status_code < 300:
            return
        # A 4xx says the request itself is wrong (bad secret, gone): retrying the same bytes cannot
        # help; 408, 425 and 429 ask to come back later, like any 5xx.
        permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 425, 429)
        raise ChannelError(f"webhook {url.host} answered {status_line(resp.status_code)}", permanent=permanent)


def status_line(code: int) -> str:
    """`HTTP 405 Method Not Allowed`: the standard phrase, not the one the server sent."""
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"
