"""Loading at national scale over a real nats-server: a registration announced a chunk per event
and copied by the matcher a chunk per transaction; many requests in one command, each answered
on its own; a load run twice changes nothing the second time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from services.contracts.db import RequestCopy
from services.matcher.db import ContractCopy, RequestRow
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import OutboxRow
from shared.nats import EmbeddedNats
from tests import people
from tests.integration.notifier_harness import Notifier, eventually
from tests.integration.services_harness import UNITS, Stack, contract, expert, request
from tests.integration.test_staff_cli import cli


def unit(i: int) -> dict[str, Any]:
    return {
        "id": f"w{i}",
        "name": f"Xã {i}",
        "province": "Tuyên Quang",
        "network": "ok",
        "location": {"lat": 22.0 + i / 1000, "lon": 105.0},
    }


def subjects_published(engine: Any) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow.subject).order_by(OutboxRow.id)))  # type: ignore[arg-type]


async def test_a_registration_is_one_event_per_chunk_and_the_matcher_copies_every_item(stack: Stack) -> None:
    units = [*UNITS, *(unit(i) for i in range(248))]  # 250: two chunks of at most 200
    await stack.ok(
        s.REFERENCE_REGISTER,
        m.RegisterReference(
            units=units, experts=[expert(i) for i in range(3)], contracts=[contract(i) for i in range(3)]
        ),
    )
    # Units (2 chunks), experts, then contracts with their balances: 4 events, not 250 + 3 + 3 + 3.
    assert subjects_published(stack.contracts.engine) == [s.REFERENCE_REGISTERED] * 4
    await stack.until(
        lambda st: st["matcher"]["counts"] == {"units": 250, "experts": 3, "contracts": 3, "requests": 0},
        what="every copy",
    )
    with Session(stack.matcher.engine) as session:  # each contract's first balance came with it
        assert {c.id: c.balance_revision for c in session.exec(select(ContractCopy))} == {"c0": 1, "c1": 1, "c2": 1}


async def test_a_bulk_submission_answers_each_request_on_its_own(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    past = str(local_today() - dt.timedelta(days=1))
    batch = m.SubmitRequests(
        requests=[
            request("r1"),
            request("r2", unit="nowhere"),
            request("r3", deadline=past),
            request("r1", title="another request under r1's id"),
            request("r4"),
        ]
    )
    data = await stack.ask(E.REQUESTS_SUBMIT, batch)
    assert (data.taken, data.refused) == (2, 3)
    assert [(r.id, r.ok, r.field) for r in data.results] == [
        ("r1", True, None),
        ("r2", False, "requests[1].unit"),
        ("r3", False, "requests[2].deadline"),
        ("r1", False, "requests[3].id"),
        ("r4", True, None),
    ]
    assert await stack.ask(E.REQUESTS_SUBMIT, batch) == data  # the same command: its first answers
    again = await stack.ask(E.REQUESTS_SUBMIT, m.SubmitRequests(requests=[request("r1"), request("r4")]))
    assert [(r.id, r.ok) for r in again.results] == [("r1", True), ("r4", True)]
    with Session(stack.matcher.engine) as session:
        assert sorted(session.exec(select(RequestRow.id))) == ["r1", "r4"]
    published = subjects_published(stack.matcher.engine)  # one event for the two it took, none again
    assert (published.count(s.REQUESTS_SUBMITTED), published.count(s.REQUEST_SUBMITTED)) == (1, 0)
    await stack.until(
        lambda st: (
            {"r1", "r4"} <= {a["request_id"] for a in st["contracts"]["assignments"]} or _copied(stack, {"r1", "r4"})
        ),
        what="contracts' copies of r1 and r4",
    )


def _copied(stack: Stack, ids: set[str]) -> bool:
    with Session(stack.contracts.engine) as session:
        return ids <= set(session.exec(select(RequestCopy.id)))


async def test_a_commune_submits_many_only_for_its_own_unit(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    batch = m.SubmitRequests(requests=[request("r1", unit="u1"), request("r2", unit="u2")])
    reply = await stack.call(s.REQUESTS_SUBMIT, batch, as_=people.commune("u1"))
    assert not reply.ok and reply.field_errors[0].field == "requests[1].unit"
    assert (
        await stack.ok(
            s.REQUESTS_SUBMIT, m.SubmitRequests(requests=[request("r1", unit="u1")]), as_=people.commune("u1")
        )
    )["taken"] == 1


async def test_loading_a_scenario_twice_changes_nothing_the_second_time(stack: Stack, tmp_path: Path) -> None:
    today = local_today()
    scenario = {
        "horizon": {"start": str(today), "end": str(today + dt.timedelta(days=14))},
        "units": [*UNITS, *(unit(i) for i in range(8))],
        "experts": [expert(i) for i in range(4)],
        "contracts": [contract(i) for i in range(4)],
        "requests": [request(f"r{i}", unit=f"w{i % 8}") for i in range(300)],
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    code, out, err = await cli(stack, "load", str(path))
    assert code == 0, err
    assert "loaded 10 units, 4 experts, 4 contracts, 300 requests" in out

    def published() -> tuple[int, int]:  # (the re-plans between the loads publish proposals: not counted)
        return (
            subjects_published(stack.contracts.engine).count(s.REFERENCE_REGISTERED),
            subjects_published(stack.matcher.engine).count(s.REQUESTS_SUBMITTED),
        )

    assert published() == (3, 2)  # units, experts, contracts: a chunk each; requests: 250 an event

    code, out, err = await cli(stack, "load", str(path))
    assert code == 0, err
    assert "300 requests" in out
    assert published() == (3, 2)
    with Session(stack.matcher.engine) as session:
        assert session.exec(select(func.count()).select_from(RequestRow)).one() == 300


async def test_the_notifier_tells_each_commune_of_a_bulk_submission(nats_fresh: EmbeddedNats, db_url: str) -> None:
    """A chunk of a registration names the communes; a bulk submission's one event tells each
    request's commune of its request, as the single events did."""
    units = [unit(1), unit(2)]
    batch = m.RequestsSubmitted(
        submitted=[m.RequestSubmitted(request=request(f"r{i}", unit=f"w{1 + i % 2}"), by="load") for i in range(3)]
    )
    async with Notifier(nats_fresh.url, db_url) as n:
        await n.publish(s.REFERENCE_REGISTERED, m.ReferenceRegistered(units=units))
        await n.known("unit:w1", "unit:w2")
        await n.publish(s.REQUESTS_SUBMITTED, batch)
        got = await eventually(lambda: _received(n), what="both communes told")
        assert got == {"unit:w1": ["Đã nhận yêu cầu r0", "Đã nhận yêu cầu r2"], "unit:w2": ["Đã nhận yêu cầu r1"]}
        assert "Xã 2 đã gửi yêu cầu" in (await n.inbox("unit:w2"))[0]["body"]  # the name the chunk gave


async def _received(n: Notifier) -> dict[str, list[str]] | None:
    out = {}
    for party in ("unit:w1", "unit:w2"):
        out[party] = sorted(x["subject"] for x in await n.inbox(party) if x["kind"] == "request_received")
    return out if sum(map(len, out.values())) >= 3 else None
