"""SIGKILL in the middle of the flow: after a restart the flow finishes, nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import signal

import pytest

from shared import messages as m
from shared import subjects as s
from tests import people
from tests.e2e import flow
from tests.e2e.system import System

pytestmark = pytest.mark.slow


def proposals_per_slot(st: dict) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for p in st["matcher"]["proposals"]:
        if p["status"] in ("proposed", "approved", "accepted"):
            key = (p["request_id"], p["slot"])
            out[key] = out.get(key, 0) + 1
    return out


async def test_services_killed_mid_flow_finish_it_without_loss_or_duplicates(system: System) -> None:
    await flow.load_reference(system, n_experts=3)
    for i in range(4):
        await flow.submit(system, f"r{i}")
    # The matcher dies while it plans: what it had committed stays, what it had not is redone.
    system.kill("matcher", signal.SIGKILL)
    system.start("matcher")
    await system.healthy("matcher")
    proposals = [await flow.proposal_for(system, f"r{i}") for i in range(4)]

    # Contracts dies right after committing approvals, before its outbox is necessarily published;
    # the notifier dies at the same moment, in the middle of delivering.
    for p in proposals:
        await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="Sở Nội vụ"))
    system.kill("contracts", signal.SIGKILL)
    system.kill("notifier", signal.SIGKILL)
    await flow.submit(system, "r9")  # arrives while contracts is down: the matcher plans it anyway
    system.start("contracts")
    system.start("notifier")
    await system.healthy("contracts")
    await system.healthy("notifier")

    st = await system.until(
        lambda st: (
            st
            if all(r["status"] == "approved" for r in st["matcher"]["requests"] if r["id"] != "r9")
            and any(a["request_id"] == "r9" for a in st["contracts"]["assignments"])
            else None
        ),
        what="approvals reach the matcher and r9 is proposed",
    )
    assert all(n == 1 for n in proposals_per_slot(st).values()), proposals_per_slot(st)
    reserved = sum(c["hours_reserved"] for c in st["contracts"]["contracts"])
    assert reserved == 4 * 4, "each approval reserved exactly once"

    for p in proposals:
        for _ in range(150):
            box = await flow.inbox(system, f"expert:{p['expert_id']}")
            hits = [n for n in box if p["id"] in n["body"]]
            if hits:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        box = await flow.inbox(system, f"expert:{p['expert_id']}")
        told = [n for n in box if p["id"] in n["body"]]
        assert len(told) == 1, f"expert told {len(told)} times of {p['id']}: {[n['subject'] for n in box]}"

    # The rest of the flow; the matcher and the notifier die before they have necessarily heard of
    # the acceptances, the hours and the completions.
    for p in proposals:
        await system.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=p["id"], expert_id=p["expert_id"]))
        await system.ok(s.HOURS_LOG, m.LogHours(assignment_id=p["id"], expert_id=p["expert_id"], hours=2))
    system.kill("matcher", signal.SIGKILL)
    system.kill("notifier", signal.SIGKILL)
    for p in proposals:
        await system.ok(
            s.REQUEST_COMPLETE,
            m.CompleteRequest(request_id=p["request_id"], by="commune officer"),
            as_=people.commune(p["unit_id"]),
        )
    system.start("matcher")
    system.start("notifier")
    await system.healthy("matcher")
    await system.healthy("notifier")
    done = {p["request_id"] for p in proposals}
    st = await system.until(
        lambda st: st if {r["id"] for r in st["matcher"]["requests"] if r["status"] == "completed"} == done else None,
        what="the four requests completed in the matcher",
    )
    used = [c for c in st["contracts"]["contracts"] if c["id"] in {p["contract_id"] for p in proposals}]
    assert sum(c["hours_used"] for c in used) == 4 * 2, "each logged hour consumed exactly once"
    assert all(c["hours_reserved"] == 0 and c["active_assignments"] == 0 for c in used), used
    for p in proposals:
        unit = next(r["unit"] for r in st["matcher"]["requests"] if r["id"] == p["request_id"])
        told: list[dict] = []
        for _ in range(150):
            told = [
                n
                for n in await flow.inbox(system, f"unit:{unit}")
                if n["kind"] == "request_completed" and p["request_id"] in n["body"]
            ]
            if told:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)
        told = [
            n
            for n in await flow.inbox(system, f"unit:{unit}")
            if n["kind"] == "request_completed" and p["request_id"] in n["body"]
        ]
        assert len(told) == 1, f"unit:{unit} told {len(told)} times that {p['request_id']} is completed"
    for name in ("contracts", "matcher", "notifier"):
        assert system.alive(name)
