"""What the notifier's clock does on a real nats-server: daily digests instead of one message per
event, and warnings about contracts ending within 14 days, each once."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from services.notifier.digest import period_of
from shared import clock
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import utcnow
from shared.nats import EmbeddedNats
from tests.integration.notifier_harness import Notifier, approved, eventually
from tests.integration.sinks import SmtpSink

STAFF = "staff:home-affairs"


async def test_a_digest_party_gets_one_message_per_period(
    nats_fresh: EmbeddedNats, db_url: str, smtp: SmtpSink
) -> None:
    period = 3.0
    async with Notifier(
        nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, digest_period_s=period
    ) as n:
        await n.ok(
            s.PREFERENCES_SET,
            m.SetPreferences(
                party="unit:w1",
                channels=["email"],
                email="ubnd@w1.gov.vn",
                digest=True,
                language="en",
            ),
        )
        # start just after a period boundary, so that the three events fall in one period
        _, began = period_of(utcnow(), period_s=period, offset_s=0)
        await asyncio.sleep((began + dt.timedelta(seconds=period + 0.2) - utcnow()).total_seconds())
        for i in range(3):
            await n.publish(s.ASSIGNMENT_APPROVED, approved(f"a-{i}", "e1", unit="w1"))
        inbox = await eventually(
            lambda: _at_least(n.inbox("unit:w1"), 3), what="three in the inbox"
        )
        assert smtp.messages == [] and n.deliveries() == [], "nothing sent one by one"

        await eventually(lambda: smtp.messages, within=period + 5, what="the digest")
        [mail] = smtp.messages
        assert mail["Subject"].startswith("Digest: 3 notifications to")
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for note in inbox:
            assert note["subject"] in text
        await asyncio.sleep(period + 0.5)  # a period with nothing new sends nothing
        assert len(smtp.messages) == 1


async def _at_least(items: object, n: int) -> object:
    got = await items  # type: ignore[misc]
    return got if len(got) >= n else None


def contract(cid: str, end: dt.date) -> dict[str, object]:
    return dict(
        id=cid,
        expert="e1",
        kind="project",
        hourly_rate_vnd=100_000,
        hours_cap=40,
        max_concurrent=3,
        start=str(local_today() - dt.timedelta(days=30)),
        end=str(end),
    )


async def test_staff_are_warned_once_about_each_contract_ending_within_14_days(
    utc_hour: dt.datetime, nats_fresh: EmbeddedNats, db_url: str
) -> None:
    async with Notifier(nats_fresh.url, db_url, watch_interval_s=0.1) as n:
        soon, later = local_today() + dt.timedelta(days=10), local_today() + dt.timedelta(days=60)
        await n.publish(s.CONTRACT_REGISTERED, m.ContractRegistered(contract=contract("c1", soon)))
        await n.publish(s.CONTRACT_REGISTERED, m.ContractRegistered(contract=contract("c2", later)))
        await n.publish(
            s.CONTRACT_REGISTERED,
            m.ContractRegistered(contract=contract("c3", soon), status="terminated"),
        )
        warned = await eventually(lambda: _at_least(n.inbox(STAFF), 1), what="a warning")
        ticks = n.svc.clock.ticks
        await eventually(lambda: n.svc.clock.ticks >= ticks + 10, what="ten more checks")
        warned = await n.inbox(STAFF)
        assert [w["kind"] for w in warned] == ["contract_expiring"]
        assert warned[0]["subject"] == "Hợp đồng c1 hết hạn sau 10 ngày"
        assert soon.strftime("%d/%m/%Y") in warned[0]["body"]

        renewed = contract("c1", local_today() + dt.timedelta(days=12))
        await n.publish(
            s.CONTRACT_STATUS_CHANGED,
            m.ContractStatusChanged(
                contract_id="c1",
                expert_id="e1",
                status="active",
                previous="active",
                by="staff",
                revision=2,
                contract=renewed,
            ),
        )
        warned = await eventually(
            lambda: _at_least(n.inbox(STAFF), 2), what="a warning for the new end"
        )
        assert warned[0]["subject"] == "Hợp đồng c1 hết hạn sau 12 ngày"


async def test_the_daily_digest_goes_at_seven_in_vietnam_dated_that_morning(
    utc_hour: dt.datetime, nats_fresh: EmbeddedNats, db_url: str, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default period: a day from 00:00 UTC, which is 07:00 in Vietnam."""
    async with Notifier(
        nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, watch_interval_s=0.1
    ) as n:
        await n.ok(
            s.PREFERENCES_SET,
            m.SetPreferences(party="unit:w1", channels=["email"], email="ubnd@w1.gov.vn", digest=True),
        )
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-1", "e1", unit="w1"))
        await eventually(lambda: _at_least(n.inbox("unit:w1"), 1), what="the notice in the inbox")
        # The clock has ticked with the notice held: before 07:00 nothing is sent.
        await eventually(lambda: n.svc.clock.ticks >= 3, what="three ticks of the clock")
        assert smtp.messages == []

        seven = dt.datetime.combine(utc_hour.date() + dt.timedelta(days=1), dt.time(0, 0, 1), dt.UTC)
        monkeypatch.setenv(clock.OFFSET_ENV, str(clock.offset_to(seven)))
        await eventually(lambda: smtp.messages, what="the morning digest")
        [mail] = smtp.messages
        assert mail["Subject"] == f"Tóm tắt: 1 thông báo đến {clock.local_day(seven):%d/%m/%Y}"
        assert clock.local_day(seven) == utc_hour.date() + dt.timedelta(days=1)
