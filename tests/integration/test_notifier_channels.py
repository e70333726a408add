"""The channel adapters against real servers on loopback: aiosmtpd for email, an HTTP server for
the webhook. What arrives, how it is signed, and how each kind of failure is classed."""

from __future__ import annotations

import time

import pytest

from services.notifier.channels import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    ChannelError,
    Outgoing,
    SmtpChannel,
    WebhookChannel,
    verify,
)
from services.notifier.templates import html_body
from shared.nats import free_port
from tests.integration.sinks import HttpSink, SmtpSink

SECRET = "s3cret-of-the-gateway"


def outgoing(**over: object) -> Outgoing:
    subject, text = (
        "Nhiệm vụ mới a-1 tại Xã Thượng Lâm",
        "Bạn được giao «Chữ ký số».\nNhận: expertshare accept a-1",
    )
    fields = dict(
        key="n:7:email",
        kind="task_new",
        subject=subject,
        text=text,
        html=html_body(subject, text),
        payload='{"kind": "task_new", "text": "Bạn được giao"}'.encode(),
        email="e1@xa.gov.vn",
        webhook_url=None,
        webhook_secret=SECRET,
    )
    return Outgoing(**{**fields, **over})  # type: ignore[arg-type]


async def test_email_has_subject_plain_text_and_html(smtp: SmtpSink) -> None:
    channel = SmtpChannel("127.0.0.1", smtp.port, "expertshare@tinh.gov.vn", timeout=5)
    await channel.send(outgoing())
    [msg] = smtp.messages
    assert msg["Subject"] == "Nhiệm vụ mới a-1 tại Xã Thượng Lâm"
    assert msg["To"] == "e1@xa.gov.vn" and msg["From"] == "expertshare@tinh.gov.vn"
    assert msg["Message-ID"] == "<n.7.email@expertshare>"
    plain = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Nhận: expertshare accept a-1" in plain
    assert "<h3>Nhiệm vụ mới a-1 tại Xã Thượng Lâm</h3>" in html and "«Chữ ký số»" in html


async def test_refused_recipient_is_permanent_and_unreachable_server_is_not(smtp: SmtpSink) -> None:
    smtp.box.refuse.add("gone@xa.gov.vn")
    channel = SmtpChannel("127.0.0.1", smtp.port, "expertshare@tinh.gov.vn", timeout=5)
    with pytest.raises(ChannelError) as refused:
        await channel.send(outgoing(email="gone@xa.gov.vn"))
    assert refused.value.permanent and "gone@xa.gov.vn" in refused.value.reason
    nobody = SmtpChannel("127.0.0.1", free_port(), "expertshare@tinh.gov.vn", timeout=2)
    with pytest.raises(ChannelError) as down:
        await nobody.send(outgoing())
    assert not down.value.permanent and "SMTP 127.0.0.1" in down.value.reason


async def test_email_without_host_or_address_fails_permanently() -> None:
    with pytest.raises(ChannelError, match="NOTIFIER_SMTP_HOST") as err:
        await SmtpChannel("", 25, "x@y.vn").send(outgoing())
    assert err.value.permanent
    with pytest.raises(ChannelError, match="no email address"):
        await SmtpChannel("127.0.0.1", 25, "x@y.vn").send(outgoing(email=None))


async def test_webhook_posts_the_body_signed_with_the_endpoint_secret(http: HttpSink) -> None:
    out = outgoing(key="n:7:webhook", webhook_url=http.url("/sms"))
    await WebhookChannel(timeout=5, allow_private=True).send(out)
    [got] = http.to("/sms")
    assert got.body == out.payload and got.json()["kind"] == "task_new"
    assert got.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert verify(SECRET, got.body, got.headers[SIGNATURE_HEADER])
    assert not verify("another-secret-entirely", got.body, got.headers[SIGNATURE_HEADER])
    assert got.headers[DELIVERY_HEADER] == "n:7:webhook"


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (401, True)])
async def test_webhook_error_answers_are_classed(http: HttpSink, status: int, permanent: bool) -> None:
    http.behaviour["/x"] = status
    with pytest.raises(ChannelError, match=f"HTTP {status}") as err:
        await WebhookChannel(timeout=5, allow_private=True).send(outgoing(webhook_url=http.url("/x")))
    assert err.value.permanent is permanent


async def test_a_stalled_webhook_is_cut_at_the_timeout(http: HttpSink) -> None:
    http.behaviour["/slow"] = ("sleep", 5)
    started = time.monotonic()
    with pytest.raises(ChannelError, match="did not answer within 0.5 s") as err:
        await WebhookChannel(timeout=0.5, allow_private=True).send(outgoing(webhook_url=http.url("/slow")))
    assert time.monotonic() - started < 2 and not err.value.permanent
