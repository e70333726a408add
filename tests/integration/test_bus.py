"""Delivery semantics on a real nats-server: retries then a dead letter, exactly-once effects,
the outbox surviving a NATS outage, and clients reconnecting through a NATS restart."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import nats
import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from shared import subjects as s
from shared.bus import Rejected
from shared.db import OutboxRow, ProcessedMessage, add_event, create_tables, transaction
from shared.endpoints import Endpoint
from shared.messages import Done, Message, Reply, RequestCancelled
from shared.nats import connect, free_port, start_nats
from shared.security.credentials import Actor
from shared.service import Permit, Service
from shared.settings import ServiceSettings
from shared.streams import setup
from tests import people


class Probe:
    """A tiny service: counts what it handles, fails on demand."""

    def __init__(self, url: str, db_url: str, name: str = "probe", **settings_: int) -> None:
        settings = ServiceSettings(service=name, nats_url=url, database_url=db_url, max_deliver=3, **settings_)
        self.svc = Service(settings, events={}, create_schema=lambda e: create_tables(e, []), identity="admin")
        self.handled: list[str] = []
        self.fail_times = 0
        self.svc.event(s.REQUEST_CANCELLED, RequestCancelled, self.on_cancelled, name="cancelled", description="test")
        self.svc.command(
            Endpoint("probe.thing.do", Message, Done), self.do, description="test", permit=Permit.of("admin")
        )

    def on_cancelled(self, session: Session, evt: RequestCancelled) -> None:
        if evt.reason == "refuse":
            raise Rejected("this one is refused", "reason")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("database briefly unavailable")
        self.handled.append(evt.request_id)

    def do(self, session: Session, cmd: Message, _actor: Actor) -> Reply:
        event = cmd.caused(RequestCancelled, request_id="from-outbox", unit_id="u", by="t")
        add_event(session, s.REQUEST_CANCELLED, event)
        return Reply(ok=True, data={"n": len(self.handled)})

    async def __aenter__(self) -> Probe:
        await setup(self.svc.settings.nats_url, consumers=self.svc.consumers)
        await self.svc.prepare()
        await self.svc.broker.start()
        self.svc.relay.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.svc.relay.stop()
        await self.svc.broker.stop()


async def publish(url: str, evt: RequestCancelled) -> None:
    nc = await connect(url, "admin")
    await nc.jetstream().publish(s.REQUEST_CANCELLED, evt.model_dump_json().encode(), stream="MATCHER")
    await nc.drain()


async def eventually(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()


def signed(cmd: Message) -> bytes:
    return people.operator().sign("probe.thing.do", cmd).model_dump_json().encode()


def evt(rid: str, reason: str = "") -> RequestCancelled:
    return RequestCancelled(request_id=rid, unit_id="u1", by="test", reason=reason)


@pytest.fixture
def fresh_nats(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_nats(tmp_path / "nats", free_port())
    yield server
    server.stop()


async def test_duplicate_event_changes_nothing_twice(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    async with Probe(fresh_nats.url, db_url) as probe:
        e = evt("r1")
        await publish(fresh_nats.url, e)
        await publish(fresh_nats.url, e)  # same event id: a duplicate
        await publish(fresh_nats.url, evt("r2"))
        await eventually(lambda: "r2" in probe.handled)
        await asyncio.sleep(0.3)
        assert probe.handled == ["r1", "r2"]


class HoldingProbe(Probe):
    """A probe whose handling of request "h" holds its transaction (and SQLite's lock) until let go."""

    def __init__(self, url: str, db_url: str, **settings_: int) -> None:
        self.held, self.inside = threading.Event(), threading.Event()
        super().__init__(url, db_url, **settings_)

    def on_cancelled(self, session: Session, evt: RequestCancelled) -> None:
        if evt.request_id == "h":
            self.inside.set()
            self.held.wait(10)
        super().on_cancelled(session, evt)


async def test_a_fetched_batch_takes_sqlites_lock_one_message_at_a_time(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """FastStream hands a consumer's fetched batch to its handler all at once: on SQLite the whole
    batch queued at the one write lock, and another consumer's message (a proposal to notify)
    waited behind all of it. Now a consumer's messages take their turns one at a time."""
    from shared.write_gate import gate_for

    if not db_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL a batch still goes at once: its transactions run together")
    probe = HoldingProbe(fresh_nats.url, db_url, batch_size=64)  # an operator's choice (`batch_size`)
    await setup(fresh_nats.url, consumers=probe.svc.consumers)
    for rid in ("h", "a", "b", "c", "d"):  # in the stream before the consumer's first fetch: one batch
        await publish(fresh_nats.url, evt(rid))
    try:
        async with probe:
            await eventually(probe.inside.is_set)
            gate = gate_for(probe.svc.engine.url.database or "")
            assert gate is not None

            def queued() -> int:
                turns = getattr(probe.svc, "turns", {})
                return gate.waiting + (turns["cancelled"].queued if "cancelled" in turns else 0)

            await eventually(lambda: queued() == 4)
            assert gate.waiting == 0, "the batch's other messages wait for their turn, not at the lock"
            probe.held.set()
            await eventually(lambda: sorted(probe.handled) == ["a", "b", "c", "d", "h"])
    finally:
        probe.held.set()


async def test_failing_handler_is_retried_then_succeeds(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    async with Probe(fresh_nats.url, db_url) as probe:
        probe.fail_times = 2  # fails twice, max_deliver is 3
        await publish(fresh_nats.url, evt("r1"))
        await eventually(lambda: probe.handled == ["r1"], timeout=20)


async def test_always_failing_message_is_dead_lettered_not_retried_forever(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    async with Probe(fresh_nats.url, db_url) as probe:
        probe.fail_times = 100
        await publish(fresh_nats.url, evt("r1"))
        await publish(fresh_nats.url, evt("r2", reason="refuse"))
        letters = await read_dead_letters(fresh_nats.url, want=2, timeout=25)
        reasons = sorted(d["reason"] for d in letters)
        assert reasons[0].startswith("failed after 3 deliveries: RuntimeError: database briefly unavailable")
        assert reasons[1] == "refused: this one is refused"
        # The metrics' label is the kind the middleware knew, never read back from the reason's words.
        assert sorted(d["kind"] for d in letters) == ["failed", "refused"]
        count = probe.svc.registry.get_sample_value
        for kind in ("failed", "refused"):
            assert count("expertshare_dead_letters_total", {"service": "probe", "reason": kind}) == 1.0
        assert probe.fail_times == 100 - 3 and probe.handled == []


async def read_dead_letters(url: str, want: int, timeout: float) -> list[dict]:
    nc = await connect(url, "admin")
    js = nc.jetstream()
    out: list[dict] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            sub = await js.pull_subscribe("deadletter.>", durable=None, stream="DEADLETTER")
            msgs = await sub.fetch(want, timeout=0.5)
            out = [json.loads(m.data) for m in msgs]
            await sub.unsubscribe()
            if len(out) >= want:
                break
            await asyncio.sleep(0.5)
        except (nats.errors.TimeoutError, nats.js.errors.NotFoundError):
            await asyncio.sleep(0.5)
    await nc.drain()
    return out


async def test_outbox_keeps_events_through_a_nats_restart(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    server = start_nats(tmp_path / "nats", port)
    probe = Probe(server.url, db_url)
    try:
        async with probe:
            nc = await connect(server.url, "admin")
            answer = await nc.request("probe.thing.do", signed(Message()), timeout=5)
            reply = Reply.model_validate_json(answer.data)
            assert reply.ok
            await eventually(lambda: "from-outbox" in probe.handled)
            await nc.close()
            server.stop()
            # NATS is down: a change made now waits in the outbox
            with transaction(probe.svc.engine) as session:
                add_event(session, s.REQUEST_CANCELLED, evt("written-while-down"))
            await asyncio.sleep(1.5)
            server = start_nats(tmp_path / "nats", port)  # same store: the streams are still there
            await eventually(lambda: "written-while-down" in probe.handled, timeout=30)

            def settled() -> bool:  # the handler ran; its transaction commits right after
                with Session(probe.svc.engine) as session:
                    return len(session.exec(select(ProcessedMessage)).all()) == 3

            await eventually(settled)
            with Session(probe.svc.engine) as session:
                assert all(r.published_at for r in session.exec(select(OutboxRow)))
            nc = await connect(server.url, "admin")  # and commands are answered again
            answer = await nc.request("probe.thing.do", signed(Message()), timeout=5)
            reply = Reply.model_validate_json(answer.data)
            assert reply.ok
            await nc.close()
    finally:
        server.stop()


async def test_an_outbox_row_sent_twice_after_a_crash_is_stored_once(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    async with Probe(fresh_nats.url, db_url) as probe:
        await probe.svc.relay.stop()  # this test drives the relay by hand
        once = evt("once")
        with transaction(probe.svc.engine) as session:
            add_event(session, s.REQUEST_CANCELLED, once)
        assert await probe.svc.relay.flush() == 1
        await probe.svc.relay.marked()
        # The process died after publishing and before marking the row: the next start sends it again.
        with transaction(probe.svc.engine) as session:
            session.execute(update(OutboxRow).values(published_at=None))
        assert await probe.svc.relay.flush() == 1
        nc = await connect(fresh_nats.url, "admin")
        js = nc.jetstream()
        stored = await js.get_last_msg("MATCHER", s.REQUEST_CANCELLED)
        assert (await js.stream_info("MATCHER")).state.messages == 1, "the server kept the resend"
        assert stored.headers and stored.headers["Nats-Msg-Id"] == once.event_id
        await nc.drain()
        await eventually(lambda: probe.handled == ["once"])


class FakeBroker:
    """Records what a relay publishes, in the order it sends them (what the server receives);
    `hold` keeps the first publish waiting until released, `together` keeps each publish waiting
    until that many are in flight at once, and a publish of an event id in `refuse` fails (as a
    message the server will not take)."""

    def __init__(self, *, hold: bool = False, refuse: frozenset[str] = frozenset(), together: int = 0) -> None:
        self.published: list[str] = []
        self.hold, self.refuse = hold, refuse
        self.inside, self.release = asyncio.Event(), asyncio.Event()
        self.together, self.in_flight, self.most = together, 0, 0
        self.all_in = asyncio.Event()

    async def publish(self, _payload: object, _subject: str, *, headers: dict[str, str], **_kw: object) -> None:
        eid = headers["Nats-Msg-Id"]
        if eid in self.refuse:
            raise RuntimeError("maximum payload exceeded")
        self.published.append(eid)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            if self.hold and not self.inside.is_set():
                self.inside.set()
                await self.release.wait()
            if self.together:
                if self.in_flight >= self.together:
                    self.all_in.set()
                await asyncio.wait_for(self.all_in.wait(), 2.0)  # one at a time: never all in
        finally:
            self.in_flight -= 1


def outbox_of(db_url: str, n: int) -> tuple[object, list[str]]:
    from shared.db import make_engine

    engine = make_engine(db_url)
    create_tables(engine, [])
    events = [evt(f"r{i}") for i in range(n)]
    for e in events:  # one transaction each, as handlers write them
        with transaction(engine) as session:
            add_event(session, s.REQUEST_CANCELLED, e)
    return engine, [e.event_id for e in events]


async def test_two_relays_on_postgresql_never_publish_the_same_rows(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("rows are claimed on PostgreSQL; a SQLite file has one process and one writer")
    from shared.bus import OutboxRelay
    from shared.db import make_engine

    engine, ids = outbox_of(db_url, 6)
    other = make_engine(db_url)  # another copy of the service: its own connections
    first = OutboxRelay(engine, FakeBroker(hold=True))  # type: ignore[arg-type]
    second = OutboxRelay(other, FakeBroker())  # type: ignore[arg-type]
    first.batch_size = second.batch_size = 3  # three rows a claim
    try:
        held = asyncio.create_task(first.flush())
        await first.broker.inside.wait()  # the first relay holds its claim, mid-publish
        assert await second.flush() == 3
        assert second.broker.published == ids[3:], "the second relay published rows the first had claimed"
        first.broker.release.set()
        assert await held == 3
        assert first.broker.published == ids[:3]
        assert await first.flush() == 0 and await second.flush() == 0, "nothing left to publish twice"
        with Session(engine) as session:
            assert all(r.published_at for r in session.exec(select(OutboxRow)))
    finally:
        first.broker.release.set()
        engine.dispose()
        other.dispose()


async def test_a_row_that_fails_to_publish_holds_back_none_of_the_others(db_url: str) -> None:
    from shared.bus import OutboxRelay

    engine, ids = outbox_of(db_url, 5)
    relay = OutboxRelay(engine, FakeBroker(refuse=frozenset({ids[1]})))  # type: ignore[arg-type]
    try:
        assert await relay.flush() == 4
        await relay.marked()
        assert relay.broker.published == [ids[0], *ids[2:]]
        with Session(engine) as session:
            pending = [r.event_id for r in session.exec(select(OutboxRow)) if r.published_at is None]
        assert pending == [ids[1]], "the failed row is kept for the next round, the others marked"
        relay.broker.refuse = frozenset()
        assert await relay.flush() == 1 and relay.broker.published[-1] == ids[1]
    finally:
        engine.dispose()


async def test_a_relay_sends_a_round_without_waiting_for_each_acknowledgement(db_url: str) -> None:
    """A placement writes a hundred events in one commit: published one acknowledgement after
    another they took a round trip each before the last party heard (issue 14)."""
    from shared.bus import OutboxRelay

    engine, ids = outbox_of(db_url, 10)
    relay = OutboxRelay(engine, FakeBroker(together=10))  # type: ignore[arg-type]
    try:
        assert await relay.flush() == 10
        assert relay.broker.most == 10, "every publish of the round in flight at once"
        assert relay.broker.published == ids, "sent oldest first"
        assert await relay.flush() == 0, "none published twice while its mark is on its way"
        await relay.marked()
        with Session(engine) as session:
            assert all(r.published_at for r in session.exec(select(OutboxRow))), "every row marked published"
    finally:
        engine.dispose()


async def test_a_relay_publishes_on_while_its_mark_waits_for_the_lock(db_url: str) -> None:
    """A mark is a write transaction: on SQLite it waits behind every handler for the one lock.
    The relay waited with it before publishing what came next (a notifier marked once per event
    it handled); now the next rows go out meanwhile, none twice, and are marked with the next mark."""

    from shared.bus import OutboxRelay

    engine, ids = outbox_of(db_url, 3)
    relay = OutboxRelay(engine, FakeBroker())  # type: ignore[arg-type]
    if relay.claims:
        pytest.skip("PostgreSQL's relays mark in the transaction that claims the rows")
    held, real_mark = threading.Event(), relay._mark
    marks: list[list[int | None]] = []

    def slow_mark(rows: list[int | None]) -> None:
        held.wait(5)
        marks.append(list(rows))
        real_mark(rows)

    relay._mark = slow_mark  # type: ignore[method-assign]
    try:
        assert await asyncio.wait_for(relay.flush(), 2) == 3, "published without waiting for the mark"
        more = [evt(f"m{i}") for i in range(2)]
        for e in more:
            with transaction(engine) as session:
                add_event(session, s.REQUEST_CANCELLED, e)
        assert await asyncio.wait_for(relay.flush(), 2) == 2, "the next rows, not the three unmarked again"
        assert relay.broker.published == [*ids, *(e.event_id for e in more)]
        held.set()
        await relay.marked()
        assert sum(len(m) for m in marks) == 5
        with Session(engine) as session:
            assert all(r.published_at for r in session.exec(select(OutboxRow)))
    finally:
        held.set()
        engine.dispose()


def test_a_relay_reads_its_pending_rows_through_their_index(db_url: str) -> None:
    """The read of the rows still to publish walked the whole outbox (every event ever written):
    4 ms a read at 31,000 rows. It goes through the partial index of unpublished rows now."""
    from sqlalchemy.dialects import sqlite

    from shared.db import pending_outbox

    if not db_url.startswith("sqlite"):
        pytest.skip("the plan is SQLite's to show here; PostgreSQL has the same partial index")
    engine, _ids = outbox_of(db_url, 3)
    try:
        with Session(engine) as session:
            stmt = select(OutboxRow).where(OutboxRow.published_at == None).order_by(OutboxRow.id).limit(200)  # noqa: E711
            sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r) for r in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "ix_outbox_pending" in plan, plan
            assert len(pending_outbox(session)) == 3
    finally:
        engine.dispose()


def test_two_copies_handling_one_id_at_once_give_one_answer(db_url: str) -> None:
    """A client's retry reaches the other copy while the first still works on the message: the
    copy that records the id second is rolled back and answers what the first did."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite lets one writer in at a time: the second copy finds the id recorded")

    from shared.bus import run_once
    from shared.db import make_engine

    engine = make_engine(db_url)
    create_tables(engine, [])
    working, finish = threading.Event(), threading.Event()

    def slow(session: Session) -> Reply:
        session.add(OutboxRow(event_id="from-the-slow-copy", subject="x", payload="{}"))
        working.set()
        assert finish.wait(10)
        return Reply(ok=True, data={"copy": "slow"})

    answers: list[Reply | None] = []
    first = threading.Thread(target=lambda: answers.append(run_once(engine, "cmd-1", "subject", slow)))
    first.start()
    assert working.wait(10)
    fast = run_once(engine, "cmd-1", "subject", lambda _s: Reply(ok=True, data={"copy": "fast"}))
    finish.set()
    first.join(10)
    assert fast is not None and answers == [fast] and fast.data == {"copy": "fast"}
    with Session(engine) as session:
        assert len(session.exec(select(ProcessedMessage)).all()) == 1
        assert session.exec(select(OutboxRow)).all() == [], "the slow copy's changes were rolled back"
    engine.dispose()


async def test_an_events_time_is_shown_by_stage_from_the_stream_storing_it(fresh_nats, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """`expertshare_event_seconds{consumer, stage}`: how long an event waited to be delivered
    (from the stream storing it), for its turn, and in its transaction: a late notification is
    traced to its stage. Two events wait 0.4 s in the stream before the consumer starts; the first
    holds its transaction 0.3 s."""
    probe = HoldingProbe(fresh_nats.url, db_url)

    def sample(stage: str, what: str) -> float:
        value = probe.svc.registry.get_sample_value(
            f"expertshare_event_seconds_{what}", {"consumer": "cancelled", "stage": stage}
        )
        return value or 0.0

    await setup(fresh_nats.url, consumers=probe.svc.consumers)
    for rid in ("h", "a"):
        await publish(fresh_nats.url, evt(rid))
    await asyncio.sleep(0.4)  # the time measured: the events wait in the stream
    try:
        async with probe:
            await eventually(probe.inside.is_set)
            await asyncio.sleep(0.3)  # the time measured: h holds its transaction
            probe.held.set()
            await eventually(lambda: sorted(probe.handled) == ["a", "h"])
            await eventually(lambda: sample("handled", "count") == 2)  # observed once committed
    finally:
        probe.held.set()

    assert sample("delivered", "count") == 2
    assert sample("delivered", "sum") >= 0.8, "each waited 0.4 s in the stream"
    assert sample("handled", "count") == 2
    assert sample("handled", "sum") >= 0.3, "h held its transaction 0.3 s"


async def test_an_event_arriving_while_its_consumer_pulls_is_handled_at_once(tmp_path: Path) -> None:
    """A pull of a batch (nats-py's fetch of more than one) that has its first message waits for
    the rest of the batch until the server says there is none, or its time runs out. When the
    server gave the message to an earlier pull still open (a fetch's that ended on the client's
    side), no word came, and the message waited up to a second: the country's notifications
    0.4 to 0.7 s late. Here an earlier pull is left open on the server; the consumer's next pull
    begins, and an event arrives: it is handled within 0.25 s of its storing, not at the end of the
    pull (1 s). Each consumer now pulls one message at a time (`batch_size`)."""
    fresh = start_nats(tmp_path / "nats", free_port())
    try:
        async with Probe(fresh.url, f"sqlite:///{tmp_path / 'probe.db'}") as probe:
            (consumer,) = [
                sub for sub in probe.svc.broker.subscribers if hasattr(getattr(sub, "subscription", None), "fetch")
            ]
            pulls = consumer.subscription
            began = asyncio.Event()
            fetch = pulls.fetch

            async def watched(*args: object, **kwargs: object) -> object:
                began.set()
                return await fetch(*args, **kwargs)

            pulls.fetch = watched
            for rid in ("e1", "e2"):
                # An earlier pull, still open on the server (for 5 s), to the consumer's own inbox.
                await pulls._nc.publish(
                    pulls._nms, json.dumps({"batch": 64, "expires": 5_000_000_000}).encode(), pulls._deliver
                )
                began.clear()
                await asyncio.wait_for(began.wait(), 2)  # the consumer's next pull has begun
                await asyncio.sleep(0.05)  # the event comes while the pull waits
                await publish(fresh.url, evt(rid))
                await eventually(lambda rid=rid: rid in probe.handled)  # type: ignore[misc]
            registry = probe.svc.registry
            labels = {"consumer": "cancelled", "stage": "delivered"}
            # Observed once the transaction has committed: just after the use case ran.
            await eventually(lambda: registry.get_sample_value("expertshare_event_seconds_count", labels) == 2)
            count = registry.get_sample_value("expertshare_event_seconds_count", labels)
            prompt = registry.get_sample_value("expertshare_event_seconds_bucket", {**labels, "le": "0.25"})
            assert prompt == count, f"{count - (prompt or 0):.0f} of 2 events waited over 0.25 s to be delivered"
    finally:
        fresh.stop()
