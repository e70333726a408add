"""Two copies of every service on a three-node JetStream cluster, driven the way a province would,
with nodes and copies killed under it: one slot, one expert, one charge.

The driver sends what ordinary concurrency produces: the same approval from two staff at once, an
approval racing a rejection, an acceptance racing a decline, hours logged twice at once, a
completion confirmed twice at once. A command that gets no answer (its node was just killed) is
sent again with the same id, as any client would. A chaos task kills a NATS node and a copy of
each service meanwhile and starts them again. At the end, from the databases and the streams:
no slot with two live assignments, no cap broken, each contract's ledger equal to its lines and
to its assignments, nothing reserved by a dead assignment, the two services agreeing on every
assignment, every event once in its stream and consumed by every consumer, each party told once.

`EXPERTSHARE_CHAOS_ROUNDS` (default 1) repeats the driver's rounds and the kills: `make chaos`
runs the longer version; its figures are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.streams import owners
from tests import people
from tests.cluster.harness import SERVICES, Copies, Databases, NatsCluster

pytestmark = pytest.mark.slow

PG = os.environ.get("EXPERTSHARE_TEST_PG", "")
ROUNDS = int(os.environ.get("EXPERTSHARE_CHAOS_ROUNDS", "1"))
REQUESTS_PER_ROUND = 8
STAFF = ("Sở Nội vụ · Lan", "Sở Nội vụ · Minh")
UNITS = [
    {
        "id": "w1",
        "name": "Xã Thượng Lâm",
        "province": "Tuyên Quang",
        "network": "ok",
        "location": {"lat": 22.45, "lon": 105.25},
    },
    {
        "id": "w2",
        "name": "Xã Lâm Bình",
        "province": "Tuyên Quang",
        "network": "weak",
        "location": {"lat": 22.50, "lon": 105.20},
    },
]


def expert(i: int) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "name": f"Chuyên gia {i}",
        "home_unit": "w2",
        "kind": "contract",
        "skills": {"digital_signature": 3},
        "languages": ["vi"],
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 120,
        "capacity_hours": 40,
    }


def contract(i: int) -> dict[str, Any]:
    # Tight: two or three tasks of four hours a round (caps fill and refuse), two at a time.
    hours = 4 + 8 * ROUNDS
    return {
        "id": f"c{i}",
        "expert": f"e{i}",
        "kind": "project",
        "hourly_rate_vnd": 150_000,
        "hours_cap": hours,
        "budget_cap_vnd": 150_000 * hours,
        "max_concurrent": 2,
        "start": str(local_today() - dt.timedelta(days=30)),
        "end": str(local_today() + dt.timedelta(days=90)),
    }


def request(rid: str, unit: str) -> dict[str, Any]:
    return {
        "id": rid,
        "unit": unit,
        "title": f"Chữ ký số {rid}",
        "skills": {"digital_signature": 2},
        "mode": "remote",
        "hours": 4,
        "priority": 4,
        "deadline": str(local_today() + dt.timedelta(days=10)),
    }


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[Copies]:
    cluster = NatsCluster.start(tmp_path / "nats")
    dbs = Databases(PG, tmp_path)
    try:
        await cluster.ready()
        async with Copies(cluster, dbs, tmp_path / "var", copies=2) as running:
            yield running
    finally:
        cluster.stop()
        dbs.drop()


async def send(system: Copies, subject: str, cmd: m.Message) -> m.Reply:
    return await system.call(subject, cmd)


async def chaos(system: Copies, rng: random.Random, stop: asyncio.Event) -> list[str]:
    """Kill one NATS node and one copy of each service in turn, and start them again. The pauses
    are the point: each victim stays down while the driver keeps working."""
    done: list[str] = []
    victims = [("node", rng.randrange(3))] + [("copy", f"{svc}#{rng.randrange(2)}") for svc in SERVICES]
    rng.shuffle(victims)
    for kind, who in victims:
        if stop.is_set():
            break
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        if kind == "node":
            system.cluster.kill(who)  # type: ignore[arg-type]
            await asyncio.sleep(3.0)
            system.cluster.restart(who)  # type: ignore[arg-type]
        else:
            system.kill(who)  # type: ignore[arg-type]
            await asyncio.sleep(1.0)
            system.start(who)  # type: ignore[arg-type]
        done.append(f"{kind} {who}")
    return done


async def drive(system: Copies, rnd: int, rng: random.Random) -> collections.Counter[str]:
    """One round: requests in, then every decision raced against another."""
    seen: collections.Counter[str] = collections.Counter()
    rids = [f"r{rnd}-{i}" for i in range(REQUESTS_PER_ROUND)]
    await asyncio.gather(
        *(
            send(system, s.REQUEST_SUBMIT, m.SubmitRequest(request=request(rid, UNITS[i % 2]["id"]), by="cán bộ xã"))
            for i, rid in enumerate(rids)
        )
    )
    deadline = time.monotonic() + 90
    settled: set[str] = set()
    while time.monotonic() < deadline and len(settled) < len(rids):
        st = await system.status()
        requests = {r["id"]: r for r in st["matcher"]["requests"]}
        settled |= {
            rid
            for rid in rids
            if requests.get(rid, {}).get("status") in ("approved", "accepted", "unmatched", "completed")
        }
        proposed = [a for a in st["contracts"]["assignments"] if a["request_id"] in rids and a["status"] == "proposed"]
        for a in proposed:
            if rng.random() < 0.8:  # the same approval from two staff at once
                replies = await asyncio.gather(
                    *(
                        send(system, s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=a["id"], by=who))
                        for who in STAFF
                    )
                )
                seen["double approve: both ok"] += all(r.ok for r in replies)
            else:  # an approval racing a rejection
                await asyncio.gather(
                    send(system, s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=a["id"], by=STAFF[0])),
                    send(
                        system,
                        s.ASSIGNMENT_REJECT,
                        m.RejectAssignment(assignment_id=a["id"], by=STAFF[1], reason="đã có người khác"),
                    ),
                )
            seen["decided"] += 1
        await asyncio.sleep(0.3)

    st = await system.status()
    approved = [a for a in st["contracts"]["assignments"] if a["request_id"] in rids and a["status"] == "approved"]
    for a in approved:
        accept = send(system, s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=a["id"], expert_id=a["expert_id"]))
        if rng.random() < 0.25:  # the expert's two devices: accept and decline at once
            await asyncio.gather(
                accept,
                send(
                    system,
                    s.ASSIGNMENT_DECLINE,
                    m.DeclineAssignment(assignment_id=a["id"], expert_id=a["expert_id"], reason="bận"),
                ),
            )
        else:
            await accept
    st = await system.status()
    accepted = [a for a in st["contracts"]["assignments"] if a["request_id"] in rids and a["status"] == "accepted"]
    for a in accepted:  # hours logged twice at once (two commands, both meant)
        await asyncio.gather(
            *(
                send(system, s.HOURS_LOG, m.LogHours(assignment_id=a["id"], expert_id=a["expert_id"], hours=1.5))
                for _ in range(2)
            )
        )
        seen["logged twice"] += 1
    for a in accepted[: len(accepted) // 2]:  # the commune confirms twice at once
        commune = people.commune(a["unit_id"])  # only the request's commune confirms it
        await asyncio.gather(
            *(
                send(
                    system,
                    s.REQUEST_COMPLETE,
                    commune.sign(
                        s.REQUEST_COMPLETE, m.CompleteRequest(request_id=a["request_id"], by="cán bộ xã", rating=5)
                    ),
                )
                for _ in range(2)
            )
        )
        seen["completed twice"] += 1
    return seen


async def quiet(system: Copies) -> dict[str, Any]:
    """The state once both services agree on every assignment (each copy has caught up)."""

    def agreed(st: dict[str, Any]) -> dict[str, Any] | None:
        ours = {a["id"]: a["status"] for a in st["contracts"]["assignments"]}
        theirs = {p["id"]: p["status"] for p in st["matcher"]["proposals"]}
        return st if all(theirs.get(aid) == status for aid, status in ours.items()) else None

    try:
        return await system.until(agreed, timeout=120, what="matcher and contracts to agree")
    except AssertionError:
        st = await system.status()
        ours = {a["id"]: a["status"] for a in st["contracts"]["assignments"]}
        theirs = {p["id"]: p["status"] for p in st["matcher"]["proposals"]}
        diff = {aid: (status, theirs.get(aid)) for aid, status in ours.items() if status != theirs.get(aid)}
        raise AssertionError(f"contracts and matcher disagree on {len(diff)} assignments: {diff}") from None


async def test_two_copies_of_each_service_on_a_three_node_cluster_book_each_slot_once(system: Copies) -> None:
    rng, began = random.Random(12), time.monotonic()
    await send(
        system,
        s.REFERENCE_REGISTER,
        m.RegisterReference(
            units=UNITS, experts=[expert(i) for i in range(6)], contracts=[contract(i) for i in range(6)]
        ),
    )
    await system.until(
        lambda st: st["matcher"]["counts"]["contracts"] >= 6 and st["matcher"]["counts"]["units"] >= 2,
        what="the matcher's copies",
    )

    seen: collections.Counter[str] = collections.Counter()
    killed: list[str] = []
    for rnd in range(ROUNDS):
        stop = asyncio.Event()
        chaos_task = asyncio.create_task(chaos(system, rng, stop))
        seen += await drive(system, rnd, rng)
        stop.set()
        killed += await chaos_task
    for service in SERVICES:
        await system.healthy(service)
    st = await quiet(system)
    assert seen["decided"] and seen["logged twice"] and seen["completed twice"], seen
    assert killed, "the chaos task killed nothing"

    check_slots(system, st)
    check_ledger(system)
    await check_streams(system)
    check_told_once(system)
    report = os.environ.get("EXPERTSHARE_CHAOS_REPORT")
    if report:
        write_report(
            report,
            {
                "rounds": ROUNDS,
                "requests": ROUNDS * REQUESTS_PER_ROUND,
                "seconds": round(time.monotonic() - began, 1),
                "kills": killed,
                "exited_and_restarted": system.restarted,
                "driver": dict(seen),
                "commands": dict(system.calls),
                "assignments": collections.Counter(a["status"] for a in st["contracts"]["assignments"]),
            },
        )


def write_report(path: str, figures: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(figures, indent=1, ensure_ascii=False))


def check_slots(system: Copies, st: dict[str, Any]) -> None:
    """No slot with two live (or done) assignments, in either service."""
    booked = system.dbs.rows(
        "contracts",
        """
        SELECT request_id, slot, count(*) AS n FROM assignment
        WHERE status IN ('approved', 'accepted', 'completed') GROUP BY request_id, slot HAVING count(*) > 1""",
    )
    assert booked == [], f"slots booked twice in contracts: {booked}"
    live = system.dbs.rows(
        "matcher",
        """
        SELECT request_id, slot, count(*) AS n FROM proposal
        WHERE status IN ('proposed', 'approved', 'accepted') GROUP BY request_id, slot HAVING count(*) > 1""",
    )
    assert live == [], f"slots with two live proposals in the matcher: {live}"
    per_request = collections.Counter(p["request_id"] for p in st["matcher"]["proposals"])
    assert max(per_request.values()) <= 6, f"requests proposed again and again: {per_request.most_common(3)}"


def check_ledger(system: Copies) -> None:
    rows = system.dbs.rows
    for c in rows("contracts", "SELECT * FROM contract"):
        used = c["used_minutes_before"] + c["reserved_minutes"] + c["consumed_minutes"]
        assert used <= c["cap_minutes"], f"{c['id']}: {used} minutes used of {c['cap_minutes']}"
        money = c["budget_used_before_vnd"] + c["reserved_vnd"] + c["consumed_vnd"]
        assert c["budget_cap_vnd"] is None or money <= c["budget_cap_vnd"], f"{c['id']}: budget broken"
        lines = {
            r["kind"]: r
            for r in rows(
                "contracts",
                """
            SELECT kind, coalesce(sum(minutes), 0) AS minutes, coalesce(sum(vnd), 0) AS vnd
            FROM ledger_line WHERE contract_id = :cid GROUP BY kind""",
                cid=c["id"],
            )
        }
        total = {
            k: (lines[k]["minutes"], lines[k]["vnd"]) if k in lines else (0, 0)
            for k in ("reserve", "consume", "release")
        }
        assert c["consumed_minutes"] == total["consume"][0], f"{c['id']}: consumed differs from its lines"
        assert c["reserved_minutes"] == total["reserve"][0] - total["consume"][0] - total["release"][0], (
            f"{c['id']}: reserved {c['reserved_minutes']} differs from its lines {total}"
        )
        assert c["reserved_vnd"] == total["reserve"][1] - total["consume"][1] - total["release"][1]
        live = rows(
            "contracts",
            "SELECT count(*) AS n FROM assignment WHERE contract_id = :cid AND status IN ('approved', 'accepted')",
            cid=c["id"],
        )[0]["n"]
        assert c["active_count"] == live, f"{c['id']}: {c['active_count']} counted active, {live} live"
    held = rows(
        "contracts",
        """
        SELECT a.id, a.status, sum(CASE l.kind WHEN 'reserve' THEN l.minutes ELSE -l.minutes END) AS held
        FROM assignment a JOIN ledger_line l ON l.assignment_id = a.id
        WHERE a.status NOT IN ('approved', 'accepted') GROUP BY a.id, a.status""",
    )
    assert [h for h in held if h["held"] != 0] == [], "minutes held by assignments no longer live"
    # The driver logs within the reservations (no extra hours): one reserve line per approval.
    reserves = rows(
        "contracts",
        """
        SELECT assignment_id, count(*) AS n FROM ledger_line WHERE kind = 'reserve'
        GROUP BY assignment_id HAVING count(*) > 1""",
    )
    assert reserves == [], f"approved (reserved) more than once: {reserves}"


async def check_streams(system: Copies) -> None:
    """Every event once in its stream; every durable consumer has consumed and acknowledged all."""
    for owner in owners():
        stream = owner.upper()
        events = await system.stream(stream)
        twice = [k for k, n in collections.Counter(e["event_id"] for e in events).items() if n > 1]
        assert twice == [], f"{stream}: events stored twice: {twice[:5]}"
        # A copy killed holding a message leaves it unacknowledged until its ack wait (10 s) ends;
        # then another copy gets it.
        deadline = time.monotonic() + 60
        while True:
            behind = [
                f"{stream}/{i.name}: {i.num_pending} pending, {i.num_ack_pending} unacknowledged"
                for i in await system.consumers(stream)
                if i.num_pending or i.num_ack_pending
            ]
            if not behind:
                break
            assert time.monotonic() < deadline, behind
            await asyncio.sleep(0.5)


def check_told_once(system: Copies) -> None:
    twice = system.dbs.rows(
        "notifier",
        """
        SELECT party, source_event_id, kind, count(*) AS n FROM notification
        GROUP BY party, source_event_id, kind HAVING count(*) > 1""",
    )
    assert twice == [], f"told twice: {twice}"
    sent = system.dbs.rows(
        "notifier",
        """
        SELECT notification_id, channel, count(*) AS n FROM delivery
        WHERE notification_id IS NOT NULL GROUP BY notification_id, channel HAVING count(*) > 1""",
    )
    assert sent == [], f"sent twice: {sent}"
