"""The notifier cannot be turned against the network it runs in, and keeps preferences only for
parties that exist.

A webhook URL pointing at 127.0.0.1 made the notifier scan local ports and store the answers
(`HTTP 405: {"detail":"Method Not Allowed"}`) where any client could read them. Now a URL whose
host is or resolves to a non-public address is refused when it is set and again when a send
connects (to the very address it checked), and a failed send's reason carries the status only.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from sqlmodel import Session

from services.notifier import addresses
from services.notifier.channels import ChannelError, Outgoing, WebhookChannel
from services.notifier.db import Preference
from shared import messages as m
from shared import subjects as s
from shared.nats import EmbeddedNats
from tests.integration.notifier_harness import Notifier, approved, eventually
from tests.integration.sinks import HttpSink

SECRET = "gateway-secret-0123456789"

NOT_PUBLIC = [
    ("http://127.0.0.1:8080/x", "loopback"),
    ("http://localhost:8222/varz", "loopback"),
    ("http://10.1.2.3/x", "private"),
    ("http://172.16.0.9/x", "private"),
    ("http://192.168.1.1/x", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0.0.0.0:4222/", "unspecified"),
    ("http://224.0.0.1/x", "multicast"),
    ("http://240.0.0.1/x", "reserved"),
    ("http://100.64.0.1/x", "not public"),
    ("http://[::1]:8080/x", "loopback"),
    ("http://[fe80::1]/x", "link-local"),
    ("http://[fd00::1]/x", "private"),
    ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ("http://[::]/x", "unspecified"),
]


def out(url: str) -> Outgoing:
    return Outgoing(
        key="n:1:webhook",
        kind="task_new",
        subject="s",
        text="t",
        html="h",
        payload=b"{}",
        webhook_url=url,
        webhook_secret=SECRET,
    )


async def test_a_webhook_to_a_non_public_address_is_refused_when_set(nats_fresh: EmbeddedNats, db_url: str) -> None:
    async with Notifier(nats_fresh.url, db_url, webhook_allow_private=False) as n:
        await n.meet("unit:w1")
        for url, what in NOT_PUBLIC:
            reply = await n.call(
                s.PREFERENCES_SET,
                m.SetPreferences(party="unit:w1", channels=["webhook"], webhook_url=url, webhook_secret=SECRET),
            )  # type: ignore[arg-type]
            assert not reply.ok and [f.field for f in reply.field_errors] == ["webhook_url"], url
            assert f"a {what} address" in reply.field_errors[0].message, (url, reply.field_errors)
        with Session(n.svc.engine) as session:
            assert session.get(Preference, "unit:w1") is None
        reply = await n.call(
            s.PREFERENCES_SET, m.SetPreferences(party="unit:w1", webhook_url="http://no-such-host.invalid/x")
        )  # type: ignore[arg-type]
        assert not reply.ok and "does not resolve" in reply.field_errors[0].message
        raw = b'{"party": "unit:w1", "webhook_url": "ftp://files.example.vn/x"}'
        reply = m.Reply.model_validate_json((await n.nc.request(s.PREFERENCES_SET, raw, timeout=5)).data)
        assert not reply.ok and reply.field_errors[0].field == "webhook_url"


@pytest.mark.parametrize(("url", "what"), NOT_PUBLIC)
async def test_a_send_to_a_non_public_address_is_refused_when_connecting(url: str, what: str) -> None:
    with pytest.raises(ChannelError) as err:
        await WebhookChannel(timeout=2).send(out(url))
    assert err.value.permanent and f"a {what} address" in err.value.reason


async def test_a_stored_url_gone_private_is_refused_at_send_and_nothing_reaches_it(
    nats_fresh: EmbeddedNats, db_url: str, http: HttpSink
) -> None:
    """Set when it was public (or before this rule): the send checks again and never connects."""
    async with Notifier(nats_fresh.url, db_url, max_attempts=1) as n:  # the harness allows loopback...
        await n.meet("expert:e1")
        await n.ok(
            s.PREFERENCES_SET,
            m.SetPreferences(
                party="expert:e1", channels=["webhook"], webhook_url=http.url("/probe"), webhook_secret=SECRET
            ),
        )  # type: ignore[arg-type]
    async with Notifier(nats_fresh.url, db_url, max_attempts=1, webhook_allow_private=False) as n:  # ...this not
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-1", "e1"))
        [failed] = await eventually(lambda: n.deliveries(status="failed"), what="the send refused")
        assert failed.last_error.startswith("webhook refused: host 127.0.0.1 resolves to a loopback address")
        assert http.to("/probe") == []


def _resolving(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """Make every name resolve to `answers` (in order), as a hostile DNS server would."""
    asked: list[str] = []

    async def getaddrinfo(_self: Any, host: str, port: int, **_kw: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers
        ]

    import asyncio

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    return asked


async def test_every_address_of_a_name_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused: the client might pick either."""
    _resolving(monkeypatch, ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(ChannelError, match="hook.example.vn resolves to a loopback address"):
        await WebhookChannel(timeout=2).send(out("http://hook.example.vn/x"))


async def test_the_send_connects_to_the_address_it_checked_with_the_urls_host(
    monkeypatch: pytest.MonkeyPatch, http: HttpSink
) -> None:
    """Resolved once, checked, connected to that address: a second answer (DNS rebinding) is never
    asked for. The endpoint still sees its own name in Host."""
    port = http.server.server_address[1]
    asked = _resolving(monkeypatch, ["127.0.0.1"])
    await WebhookChannel(timeout=5, allow_private=True).send(out(f"http://hook.example.vn:{port}/in"))
    [got] = http.to("/in")
    assert got.headers["Host"] == f"hook.example.vn:{port}" and asked == ["hook.example.vn"]


async def test_a_failed_send_keeps_the_status_never_the_body(http: HttpSink) -> None:
    http.behaviour["/x"] = 405
    with pytest.raises(ChannelError) as err:
        await WebhookChannel(timeout=5, allow_private=True).send(out(http.url("/x")))
    assert err.value.reason == "webhook 127.0.0.1 answered HTTP 405 Method Not Allowed"
    assert "no" not in err.value.reason.split("answered")[1], "the sink's body ('no') is not kept"


def test_only_http_and_https() -> None:
    for url in ("file:///etc/passwd", "gopher://x/", "ftp://example.vn/"):
        with pytest.raises(addresses.Refused, match="only http and https"):
            addresses.check_url(url, allow_private=True)


async def test_preferences_only_for_parties_that_exist(nats_fresh: EmbeddedNats, db_url: str) -> None:
    async with Notifier(nats_fresh.url, db_url, staff_parties="finance, staff:planning") as n:
        await n.meet("expert:e1", "unit:w1")
        for party in ("expert:e404", "unit:nowhere", "staff:anyone"):
            reply = await n.call(s.PREFERENCES_SET, m.SetPreferences(party=party, language="en"))
            assert not reply.ok and [(f.field, f.message) for f in reply.field_errors] == [
                ("party", f"unknown party {party}")
            ]
        for party in ("expert:e1", "unit:w1", "staff:home-affairs", "staff:finance", "staff:planning"):
            await n.ok(s.PREFERENCES_SET, m.SetPreferences(party=party, language="en"))
        with Session(n.svc.engine) as session:
            assert session.get(Preference, "expert:e404") is None
