"""What the notifier's clock does on a real nats-server: daily digests instead of one message per
event, and warnings about contracts ending within 14 days, each once."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
import structlog

from services.notifier.digest import period_of
from shared import clock
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import utcnow
from shared.nats import EmbeddedNats
from tests.integration.notifier_harness import Notifier, approved, eventually
from tests.integration.race import waiting_for_a_lock
from tests.integration.sinks import SmtpSink

STAFF = "staff:home-affairs"


async def test_a_digest_party_gets_one_message_per_period(
    nats_fresh: EmbeddedNats, db_url: str, smtp: SmtpSink
) -> None:
    period = 3.0
    async with Notifier(
        nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, digest_period_s=period
    ) as n:
        await n.meet("unit:w1")
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
        inbox = await eventually(lambda: _at_least(n.inbox("unit:w1"), 3), what="three in the inbox")
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
        warned = await eventually(lambda: _at_least(n.inbox(STAFF), 2), what="a warning for the new end")
        assert warned[0]["subject"] == "Hợp đồng c1 hết hạn sau 12 ngày"


async def test_the_daily_digest_goes_at_seven_in_vietnam_dated_that_morning(
    utc_hour: dt.datetime, nats_fresh: EmbeddedNats, db_url: str, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default period: a day from 00:00 UTC, which is 07:00 in Vietnam."""
    async with Notifier(nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=smtp.port, watch_interval_s=0.1) as n:
        await n.meet("unit:w1")
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


# ---------------------------------------------------------------- several copies' clocks at once

DAY_S = 24 * 3600.0


def clock_settings(db_url: str) -> Any:
    from services.notifier.settings import NotifierSettings

    return NotifierSettings(
        database_url=db_url,
        secret_key="the test installation's key",
        remind_after_s=DAY_S,
        escalate_after_s=2 * DAY_S,
        decline_after_s=3 * DAY_S,
    )


def due_work(db_url: str, now: dt.datetime) -> None:
    """Two tasks due for a reminder, a contract ending in 5 days, a digest party with a held note."""
    from services.notifier.db import AnswerWatch, ContractWatch, DigestItem, Notification, Preference, create_schema
    from shared.db import make_engine, transaction

    engine = make_engine(db_url)
    create_schema(engine)
    today = clock.local_day(now)
    with transaction(engine) as session:
        for aid in ("a-1", "a-2"):
            session.add(
                AnswerWatch(
                    assignment_id=aid,
                    expert_id="e1",
                    unit_id="w1",
                    request_id=f"r-{aid}",
                    title="Chữ ký số",
                    correlation_id=f"c-{aid}",
                    approved_at=now - dt.timedelta(hours=30),
                )
            )
        session.add(ContractWatch(contract_id="c1", expert_id="e1", end=today + dt.timedelta(days=5)))
        session.add(Preference(party="unit:w1", channels="email", email="ubnd@w1.gov.vn", digest=True))
        note = Notification(
            party="unit:w1",
            kind="assignment_approved",
            language="vi",
            subject="Đã duyệt",
            body="r1",
            source_event_id="ev-1",
            created_at=now - dt.timedelta(days=2),
        )
        session.add(note)
        session.flush()
        session.add(DigestItem(notification_id=note.id, party="unit:w1"))
    engine.dispose()


def done_work(engine: Any) -> dict[str, Any]:
    from sqlmodel import Session, select

    from services.notifier.db import AnswerWatch, Delivery, Digest, Notification

    with Session(engine) as session:
        notes = session.exec(select(Notification.kind, Notification.source_event_id)).all()
        return {
            "notes": sorted(k for k, _ in notes if k != "assignment_approved"),
            "per_event": max(Counter(notes).values()),
            "stages": sorted(w.stage for w in session.exec(select(AnswerWatch))),
            "digests": len(session.exec(select(Digest)).all()),
            "digest_sends": len(session.exec(select(Delivery).where(Delivery.kind == "digest")).all()),
        }


EVERYTHING_ONCE = {
    "notes": ["contract_expiring", "task_reminder", "task_reminder"],
    "per_event": 1,
    "stages": ["reminded", "reminded"],
    "digests": 1,
    "digest_sends": 1,
}


@pytest.mark.parametrize("held", ["task_reminder", "contract_expiring", "digest"])
async def test_two_clocks_ticking_at_once_do_each_thing_once_without_error(
    db_url: str, monkeypatch: Any, held: str
) -> None:
    """Two copies' clocks on one PostgreSQL database. The first holds one item (`held`) written but
    not committed while the second ticks: the second must leave that item to it, not collide on the
    unique key (which rolled back the second's whole check)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: the second clock waits; PostgreSQL lets both work at once")

    from services.notifier import digest, watch
    from services.notifier.clock import Clock
    from shared.db import make_engine

    now = utcnow()
    due_work(db_url, now)
    engines = [make_engine(db_url), make_engine(db_url)]  # two copies, each its own connections
    first, second = (Clock(e, broker=None, settings=clock_settings(db_url)) for e in engines)
    holding, release = threading.Event(), threading.Event()

    def hold(session: Any, kind: str) -> None:
        if kind == held and session.get_bind() is engines[0] and not holding.is_set():
            holding.set()  # written, not committed: held until the other clock has done what it can
            assert release.wait(30)

    original_notify, original_queue = watch.notify, digest._queue

    def notify(session: Any, evt: Any, party: str, kind: str, **fields: Any) -> Any:
        note = original_notify(session, evt, party, kind, **fields)
        hold(session, kind)
        return note

    def queue(session: Any, *args: Any, **kw: Any) -> None:
        original_queue(session, *args, **kw)
        session.flush()
        hold(session, "digest")

    monkeypatch.setattr(watch, "notify", notify)
    monkeypatch.setattr(digest, "_queue", queue)

    failures: list[str] = []
    try:
        with structlog.testing.capture_logs() as logs:
            ticking = asyncio.create_task(first.tick(now))
            await eventually(holding.is_set, what=f"the first clock inside its {held}")
            other = asyncio.create_task(second.tick(now))
            await eventually(
                lambda: other.done() or waiting_for_a_lock(engines[1]), what="the second clock done or stuck"
            )
            release.set()
            await asyncio.gather(ticking, other)
        failures = [e["event"] for e in logs if e["log_level"] in ("error", "critical")]
    finally:
        release.set()
    assert failures == []
    assert done_work(engines[0]) == EVERYTHING_ONCE
    await first.tick(now)  # and ticking again changes nothing
    await second.tick(now)
    assert done_work(engines[0]) == EVERYTHING_ONCE
    for e in engines:
        e.dispose()


async def test_an_item_that_fails_undoes_none_of_the_others(db_url: str, monkeypatch: Any) -> None:
    from services.notifier import watch
    from services.notifier.clock import Clock
    from shared.db import make_engine

    now = utcnow()
    due_work(db_url, now)
    engine = make_engine(db_url)
    original = watch.notify

    def notify(session: Any, evt: Any, party: str, kind: str, **fields: Any) -> Any:
        if fields.get("assignment_id") == "a-1":
            raise RuntimeError("template broken for this one")
        return original(session, evt, party, kind, **fields)

    monkeypatch.setattr(watch, "notify", notify)
    await Clock(engine, broker=None, settings=clock_settings(db_url)).tick(now)
    got = done_work(engine)
    assert got["stages"] == ["reminded", "waiting"], "a-2 reminded although a-1 failed"
    assert got["notes"] == ["contract_expiring", "task_reminder"] and got["digests"] == 1
    monkeypatch.setattr(watch, "notify", original)
    await Clock(engine, broker=None, settings=clock_settings(db_url)).tick(now)  # a-1 on the next tick
    assert done_work(engine) == EVERYTHING_ONCE
    engine.dispose()
