"""One planner among any number of matcher copies (`shared.leader`), on a real nats-server.

Two copies campaign for one key of the leaders bucket: exactly one leads; when it dies (stops
renewing, no cleanup) the other leads within the TTL and a margin, when it stops cleanly at once.
A plan made by a leader deposed between its snapshot and its apply is refused at apply, and the
database refuses a write of an older generation whatever the writer believes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from services.matcher import app as matcher_app
from services.matcher import handlers as h
from services.matcher import planner
from services.matcher.app import PLAN, Replanner
from services.matcher.db import PlanRun, Proposal, create_schema
from services.matcher.settings import MatcherSettings
from shared import messages as m
from shared.bus import in_thread
from shared.clock import local_today
from shared.db import make_engine, transaction
from shared.leader import Leadership, advance_fence, note_change
from shared.nats import EmbeddedNats
from shared.service import Service
from tests import people
from tests.integration.services_harness import UNITS, contract, expert, request

TTL = 2.0


async def until(check: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


def copies(url: str, bucket: str = "test-leaders") -> tuple[Leadership, Leadership]:
    return (
        Leadership(url, PLAN, identity="admin", bucket=bucket, ttl_s=TTL, holder="a"),
        Leadership(url, PLAN, identity="admin", bucket=bucket, ttl_s=TTL, holder="b"),
    )


def crash(leader: Leadership) -> None:
    """The copy stops renewing without a word (killed, frozen, cut off): its key stays until the TTL."""
    assert leader._task is not None
    leader._task.cancel()


async def test_exactly_one_copy_leads_and_another_takes_over_within_the_ttl(nats_fresh: EmbeddedNats) -> None:
    a, b = copies(nats_fresh.url)
    await a.start()
    await b.start()
    try:
        first = await until(lambda: a if a.leading else b if b.leading else None, "a leader")
        other = b if first is a else a
        start_rev = first._rev or 0
        # several renewals (compare-and-set on the revision), and never two leaders at once
        while (first._rev or 0) < start_rev + 3:
            assert first.leading and not other.leading
            await asyncio.sleep(0.02)

        crash(first)
        died = time.monotonic()
        await until(lambda: other.leading, "the other copy leading", within=TTL + 3)
        took = time.monotonic() - died
        assert took <= TTL + 1.5, f"took over after {took:.1f} s (TTL {TTL} s)"
        assert other.term is not None and first.term is not None and other.term > first.term, "a newer generation"
        assert not first.holds(first.term), "the dead copy's lease has run out by then"
    finally:
        await a.stop()
        await b.stop()


async def test_a_copy_stopping_cleanly_hands_over_at_once(nats_fresh: EmbeddedNats) -> None:
    a, b = copies(nats_fresh.url, bucket="clean")
    await a.start()
    await until(lambda: a.leading, "a leading")
    await b.start()
    try:
        await a.stop()  # deletes its key
        stopped = time.monotonic()
        await until(lambda: b.leading, "b leading", within=TTL)
        assert time.monotonic() - stopped < TTL / 2, "b did not wait for the key to expire"
    finally:
        await b.stop()


# ---------------------------------------------------------------- fencing the plan


@pytest.fixture
def matcher_db(db_url: str) -> Iterator[str]:
    """A matcher database with two experts who can take remote digital-signature work."""
    engine = make_engine(db_url)
    create_schema(engine)
    with transaction(engine) as s:
        for u in UNITS:
            h.copy_unit(s, m.UnitRegistered(unit=u))
        for i in range(2):
            h.copy_expert(s, m.ExpertRegistered(expert=expert(i)))
            h.copy_contract(s, m.ContractRegistered(contract=contract(i)))
    engine.dispose()
    yield db_url


def submit(engine: Any, rid: str) -> None:
    with transaction(engine) as s:
        people.call(h.submit_request, s, m.SubmitRequest(request=request(rid)), today=local_today())
        note_change(s, PLAN)


def replan_with(engine: Any, fence: Callable[[Session], bool]) -> int:
    return planner.replan(
        engine, today=local_today(), time_limit_s=2, workers=1, seed=0, cause=m.Message(), fence=fence
    )


def rows(engine: Any, model: Any) -> list[Any]:
    with Session(engine) as s:
        return list(s.exec(select(model)))


async def test_a_plan_made_by_a_deposed_leader_is_refused_at_apply(
    nats_fresh: EmbeddedNats, matcher_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(matcher_db)
    submit(engine, "r1")
    a, b = copies(nats_fresh.url)
    await a.start()
    await until(lambda: a.leading, "a leading")
    await b.start()
    # a's plan is held between its snapshot (and solve) and its apply
    solved, go = threading.Event(), threading.Event()
    original = planner.plan_for

    def held_plan_for(snap: Any, **kw: Any) -> Any:
        plan = original(snap, **kw)
        if threading.current_thread().name == "a-plans":
            solved.set()
            assert go.wait(30)
        return plan

    monkeypatch.setattr(planner, "plan_for", held_plan_for)
    term_a = a.term
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(replan_with(engine, a.fence(PLAN, term_a))), name="a-plans")
    worker.start()
    try:
        await until(solved.is_set, "a's plan solved", within=30)
        crash(a)  # a is deposed: b leads once a's key expires, and plans
        await until(lambda: b.leading, "b leading", within=TTL + 3)
        assert await in_thread(replan_with, engine, b.fence(PLAN, b.term)) == 1
        b_runs = rows(engine, PlanRun)
        go.set()
        await in_thread(worker.join, 30)
        assert result == [0], "a's plan was written"
        assert rows(engine, PlanRun) == b_runs, "only b's plan is recorded"
        [p] = [p for p in rows(engine, Proposal) if p.status == "proposed"]
        assert p.plan_id == b_runs[0].id
    finally:
        go.set()
        await a.stop()
        await b.stop()
        engine.dispose()


def test_the_database_refuses_a_write_of_an_older_generation(db_url: str) -> None:
    """A writer that still believes it leads (a paused process) is refused once a newer term wrote."""
    engine = make_engine(db_url)
    create_schema(engine)
    steps = [
        ((7, 5), True),
        ((7, 5), True),
        ((7, 9), True),
        ((7, 8), False),
        ((6, 99), False),
        ((8, 1), True),
        ((7, 99), False),
    ]
    for (epoch, generation), allowed in steps:
        with transaction(engine) as s:
            assert advance_fence(s, PLAN, epoch, generation) is allowed, (epoch, generation)
    engine.dispose()


async def test_of_two_matcher_copies_only_the_leader_plans_and_the_other_takes_over(
    nats_fresh: EmbeddedNats, matcher_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two Replanners on one database and one bucket. A request submitted through either copy is
    planned by the leader (the follower's change reaches it through the change counter); when the
    leader dies, the other copy plans the next request within the TTL and a margin."""
    planned_by: list[int] = []  # who decided: placed a request at once, or re-planned
    real, real_place = matcher_app.replan, matcher_app.place_open

    def recording(engine: Any, **kw: Any) -> int:
        planned_by.append(id(engine))  # each copy has its own engine
        return real(engine, **kw)

    def placing(session: Any, *a: Any, **kw: Any) -> tuple[int, int]:
        decided = real_place(session, *a, **kw)
        if any(decided):
            planned_by.append(id(session.get_bind()))
        return decided

    monkeypatch.setattr(matcher_app, "replan", recording)
    monkeypatch.setattr(matcher_app, "place_open", placing)
    copies_: list[Replanner] = []
    for name in ("a", "b"):
        st = MatcherSettings(
            nats_url=nats_fresh.url, database_url=matcher_db, time_limit_s=1, debounce_s=0.05, change_poll_s=0.1
        )
        svc = Service(st, events=matcher_app.EVENTS, create_schema=create_schema)
        copies_.append(
            Replanner(svc, st, Leadership(nats_fresh.url, PLAN, identity="admin", bucket="two", ttl_s=TTL, holder=name))
        )
    for r in copies_:
        r.start()
    engine = make_engine(matcher_db)
    try:
        leader = await until(lambda: next((r for r in copies_ if r.leadership.leading), None), "a leader")
        follower = next(r for r in copies_ if r is not leader)
        submit(follower.svc.engine, "r1")  # handled by the follower: the leader hears of it from the counter
        await until(lambda: any(p.request_id == "r1" for p in rows(engine, Proposal)), "r1 proposed")
        assert planned_by and set(planned_by) == {id(leader.svc.engine)}, "the follower planned"

        crash(leader.leadership)
        assert leader._task is not None
        leader._task.cancel()
        submit(leader.svc.engine, "r2")
        died = time.monotonic()
        await until(lambda: any(p.request_id == "r2" for p in rows(engine, Proposal)), "r2 proposed", within=TTL + 10)
        assert follower.leadership.leading and time.monotonic() - died <= TTL + 5
        assert planned_by[-1] == id(follower.svc.engine)
        live = [p for p in rows(engine, Proposal) if p.status == "proposed"]
        assert sorted(p.request_id for p in live) == ["r1", "r2"], "one live proposal per request"
    finally:
        for r in copies_:
            await r.stop()
            r.svc.engine.dispose()
        engine.dispose()


async def test_every_service_declares_the_leaders_bucket_with_its_ttl(nats_fresh: EmbeddedNats) -> None:

    from shared.nats import connect
    from shared.streams import LEADER_TTL_S, LEADERS, setup

    await setup(nats_fresh.url)
    await setup(nats_fresh.url)  # a second run: nothing to change, no conflict
    nc = await connect(nats_fresh.url, "admin")
    try:
        info = (await (await nc.jetstream().key_value(LEADERS)).status()).stream_info
        assert info.config.max_age == LEADER_TTL_S and info.config.num_replicas == 1
        assert info.config.max_msgs_per_subject == 1, "no history: only the holder's last renewal"
    finally:
        await nc.close()
