"""The notifier on a real nats-server with real SMTP and HTTP servers on loopback: every channel
exactly once per event, retries with backoff then a dead letter, no channel held up by a slow
server, sends surviving an outage and a crash, retry on demand, preferences refused clearly."""

from __future__ import annotations

import time

from sqlmodel import Session

from services.notifier import queue
from services.notifier.channels import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from services.notifier.db import Preference
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.nats import EmbeddedNats, free_port
from tests.integration.notifier_harness import Notifier, approved, eventually, expert
from tests.integration.sinks import HttpSink, SmtpSink

SECRET = "gateway-secret-0123456789"


def prefs(party: str, http: HttpSink, path: str, **over: object) -> m.SetPreferences:
    fields = dict(
        party=party,
        channels=["email", "webhook"],
        email=f"{party.split(':')[1]}@xa.gov.vn",
        webhook_url=http.url(path),
        webhook_secret=SECRET,
    )
    return m.SetPreferences(**{**fields, **over})  # type: ignore[arg-type]


async def test_each_channel_hears_once_per_event_in_the_party_language(
    nats_fresh: EmbeddedNats, db_url: str, smtp: SmtpSink, http: HttpSink
) -> None:
    async with Notifier(nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=smtp.port) as n:
        await n.publish(s.EXPERT_REGISTERED, expert("e1", languages=["en"]))
        await n.known("expert:e1")
        await n.ok(s.PREFERENCES_SET, prefs("expert:e1", http, "/e1"))

        async def speaks_english() -> bool:
            got = await n.ask(E.PREFERENCES, m.GetPreferences(party="expert:e1"))
            return got.language == "en"

        await eventually(speaks_english, what="the directory knows e1 reads English")
        evt = approved("a-1", "e1")
        await n.publish(s.ASSIGNMENT_APPROVED, evt)
        await n.publish(s.ASSIGNMENT_APPROVED, evt, dedup_header=False)  # JetStream keeps this copy
        await eventually(lambda: smtp.messages and http.to("/e1"), what="email and webhook")
        await eventually(lambda: len(n.deliveries(status="sent")) == 2, what="both recorded sent")
        await eventually(lambda: n.stream("NOTIFIER", s.NOTIFICATION_DELIVERED), what="delivered events")
        time_to_repeat = time.monotonic() + 1.0
        await eventually(lambda: time.monotonic() > time_to_repeat)
        assert len(smtp.messages) == 1 and len(http.to("/e1")) == 1
        [mail], [hook] = smtp.messages, http.to("/e1")
        assert mail["Subject"] == "New task a-1 at w1" and mail["To"] == "e1@xa.gov.vn"
        assert "Accept: expertshare accept a-1 --expert e1" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert verify(SECRET, hook.body, hook.headers[SIGNATURE_HEADER])
        body = hook.json()
        assert body["kind"] == "task_new" and body["event"]["event_id"] == evt.event_id
        assert body["event_type"] == "AssignmentApproved" and body["language"] == "en"
        assert hook.headers[DELIVERY_HEADER] == body["delivery"]
        assert [x["kind"] for x in await n.inbox("expert:e1")] == ["task_new"]
        assert [x["kind"] for x in await n.inbox("unit:w1")] == ["request_approved"]  # inbox only
        channels = sorted(e["channel"] for e in await n.stream("NOTIFIER", s.NOTIFICATION_DELIVERED))
        assert channels == ["email", "inbox", "inbox", "webhook"]


async def test_slow_server_holds_up_nobody_and_a_failure_is_dead_lettered_then_retried(
    nats_fresh: EmbeddedNats, db_url: str, http: HttpSink
) -> None:
    http.behaviour["/slow"] = ("sleep", 5)
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.meet("expert:e1", "expert:e2")
        for who, path in (("e1", "/slow"), ("e2", "/fast")):
            await n.ok(s.PREFERENCES_SET, prefs(f"expert:{who}", http, path, channels=["webhook"]))
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-slow", "e1"))
        await eventually(lambda: http.to("/slow"), what="the slow server reached")
        started = time.monotonic()
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-fast", "e2"))
        await eventually(lambda: http.to("/fast"), what="the fast webhook")
        assert time.monotonic() - started < 0.9, "the fast endpoint waited behind the slow one"

        failed = await eventually(lambda: n.deliveries(status="failed"), within=20, what="given up")
        assert len(http.to("/slow")) == 3, "max_attempts tries, no more"
        assert failed[0].attempts == 3 and "did not answer within 1 s" in failed[0].last_error
        listed = (await n.ask(E.DELIVERIES, m.GetDeliveries(status="failed"))).deliveries
        assert [d.party for d in listed] == ["expert:e1"]
        [event] = await eventually(lambda: n.stream("NOTIFIER", s.NOTIFICATION_FAILED), what="failed event")
        assert event["party"] == "expert:e1" and event["channel"] == "webhook" and event["attempts"] == 3
        [letter] = await eventually(lambda: n.stream("DEADLETTER", s.deadletter("notifier")), what="dead letter")
        assert letter["reason"].startswith("failed after 3 attempts: webhook") and "within 1 s" in letter["reason"]

        http.behaviour["/slow"] = 200  # the gateway is fixed: staff send it again
        assert (await n.ask(E.DELIVERIES_RETRY, m.RetryDeliveries(all=True))).retried == [listed[0].id]
        await eventually(lambda: n.deliveries(status="sent", party="expert:e1"), what="sent on retry")
        assert len(http.to("/slow")) == 4
        assert (await n.ask(E.DELIVERIES, m.GetDeliveries(status="failed"))).deliveries == []


async def test_sends_wait_out_an_smtp_outage_without_holding_the_event(
    nats_fresh: EmbeddedNats, db_url: str, http: HttpSink
) -> None:
    port = free_port()
    async with Notifier(nats_fresh.url, db_url, smtp_host="127.0.0.1", smtp_port=port, max_attempts=50) as n:
        await n.meet("expert:e1")
        await n.ok(s.PREFERENCES_SET, prefs("expert:e1", http, "/e1", channels=["email"]))
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-1", "e1"))
        # the inbox is written and the event acknowledged while the mail server is down
        await eventually(lambda: n.inbox("expert:e1"), what="inbox")
        await eventually(lambda: any(d.attempts >= 2 for d in n.deliveries()), what="retries")
        assert n.deliveries()[0].status == "pending" and "Connect call failed" in n.deliveries()[0].last_error
        sink = SmtpSink(port).start()
        try:
            await eventually(lambda: n.deliveries(status="sent"), within=20, what="sent after the outage")
            assert len(sink.messages) == 1
        finally:
            sink.stop()


async def test_a_send_claimed_by_a_dead_worker_is_sent_once_after_its_lease(
    nats_fresh: EmbeddedNats, db_url: str, http: HttpSink
) -> None:
    async with Notifier(nats_fresh.url, db_url, lease_s=1.5) as n:
        await n.svc.worker.stop()  # this instance's worker is "dead" for now
        await n.meet("expert:e1")
        await n.ok(s.PREFERENCES_SET, prefs("expert:e1", http, "/e1", channels=["webhook"]))
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-1", "e1"))
        await eventually(lambda: n.deliveries(), what="queued")
        sealer = n.svc.worker.sealer
        [taken] = queue.claim(n.svc.engine, 10, 1.5, sealer)  # claimed, then the claimant dies mid-send
        assert queue.claim(n.svc.engine, 10, 1.5, sealer) == [], "a leased send is not taken twice"
        n.svc.worker.start()  # a new worker
        await eventually(lambda: n.deliveries(status="sent"), within=10, what="sent after the lease")
        [got] = http.to("/e1")
        assert got.headers[DELIVERY_HEADER] == taken.out.key


async def test_preferences_are_refused_with_the_field_at_fault(nats_fresh: EmbeddedNats, db_url: str) -> None:
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.meet("expert:e1", "unit:w1")
        reply = await n.call(s.PREFERENCES_SET, m.SetPreferences(party="expert:e1", channels=["email"]))
        assert not reply.ok and reply.field_errors[0].field == "email"
        reply = await n.call(
            s.PREFERENCES_SET,
            m.SetPreferences(party="unit:w1", channels=["webhook"], webhook_url="http://127.0.0.1:9/x"),
        )  # type: ignore[arg-type]
        assert not reply.ok and reply.field_errors[0].field == "webhook_secret"
        bad = b'{"party": "unit:w1", "email": "not-an-address"}'
        answer = m.Reply.model_validate_json((await n.nc.request(s.PREFERENCES_SET, bad, timeout=5)).data)
        assert not answer.ok and answer.field_errors[0].field == "email"
        data = await n.ask(
            E.PREFERENCES_SET,
            m.SetPreferences(
                party="unit:w1",
                language="en",
                digest=True,
                channels=["webhook"],
                webhook_url="http://127.0.0.1:9/x",
                webhook_secret=SECRET,
            ),
        )  # type: ignore[arg-type]
        assert data.channels == ["inbox", "webhook"] and data.language == "en" and data.digest
        assert "webhook_secret" not in data.model_dump() and data.webhook_secret_set is True
        again = await n.ask(E.PREFERENCES, m.GetPreferences(party="unit:w1"))
        assert again == data
        reply = await n.call(s.DELIVERIES_RETRY, m.RetryDeliveries())
        assert not reply.ok and reply.field_errors[0].field == "delivery_ids"


async def test_webhook_secrets_are_sealed_at_rest_and_a_foreign_key_fails_clearly(
    nats_fresh: EmbeddedNats, db_url: str, http: HttpSink
) -> None:
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.meet("expert:e1")
        await n.ok(s.PREFERENCES_SET, prefs("expert:e1", http, "/e1", channels=["webhook"]))
        with Session(n.svc.engine) as session:
            pref = session.get(Preference, "expert:e1")
            assert pref is not None and pref.webhook_secret is None and pref.webhook_secret_sealed
            assert SECRET not in pref.webhook_secret_sealed, "never in clear in the database"
            # As an earlier version left it: the secret in clear.
            pref.webhook_secret, pref.webhook_secret_sealed = SECRET, None
            session.add(pref)
            session.commit()
    async with Notifier(nats_fresh.url, db_url) as n:  # a restart seals it
        with Session(n.svc.engine) as session:
            pref = session.get(Preference, "expert:e1")
            assert pref is not None and pref.webhook_secret is None and pref.webhook_secret_sealed
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-1", "e1"))
        await eventually(lambda: http.to("/e1"), what="the webhook, signed with the opened secret")
        [hook] = http.to("/e1")
        assert verify(SECRET, hook.body, hook.headers[SIGNATURE_HEADER])
    async with Notifier(nats_fresh.url, db_url, secret_key="another installation", max_attempts=1) as n:
        await n.publish(s.ASSIGNMENT_APPROVED, approved("a-2", "e1"))
        [failed] = await eventually(lambda: n.deliveries(status="failed"), what="the send under a foreign key")
        assert "another NOTIFIER_SECRET_KEY" in (failed.last_error or ""), failed
        assert len(http.to("/e1")) == 1, "nothing was sent unsigned or signed wrong"
