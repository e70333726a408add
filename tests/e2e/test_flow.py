"""The whole flow over the wire, every service its own process.

commune submits -> matcher proposes -> staff approve -> contracts reserve -> notifier tells the
expert and the commune -> expert accepts -> logs hours -> contracts consume -> commune confirms ->
all notified. A rejection or a decline sends the request back to matching without that expert; a
cancellation releases what was reserved.
"""

from __future__ import annotations

import pytest

from shared import messages as m
from shared import subjects as s
from tests import people
from tests.e2e import flow
from tests.e2e.system import System

pytestmark = pytest.mark.slow


async def test_request_to_completion_with_rejection_decline_and_cancellation(system: System) -> None:
    await flow.load_reference(system, n_experts=3)
    await flow.submit(system, "r1")
    first = await flow.proposal_for(system, "r1")

    await system.ok(s.ASSIGNMENT_REJECT, m.RejectAssignment(assignment_id=first["id"], by="Sở Nội vụ", reason="busy"))
    second = await flow.proposal_for(system, "r1", exclude={first["expert_id"]})
    assert second["expert_id"] != first["expert_id"]

    approved = await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=second["id"], by="Sở Nội vụ"))
    st = await system.status()
    c = flow.balance(st, second["contract_id"])
    assert c["hours_reserved"] == approved["reserved_minutes"] / 60 == 4
    assert approved["reserved_vnd"] == second["cost_vnd"] > 0
    assert c["budget_left_vnd"] == 50_000_000 - second["cost_vnd"]

    await system.ok(
        s.ASSIGNMENT_DECLINE,
        m.DeclineAssignment(assignment_id=second["id"], expert_id=second["expert_id"], reason="sick"),
    )
    st = await system.status()
    released = flow.balance(st, second["contract_id"])
    assert (released["hours_reserved"], released["budget_left_vnd"]) == (0, 50_000_000)
    third = await flow.proposal_for(system, "r1", exclude={first["expert_id"], second["expert_id"]})
    assert third["expert_id"] not in {first["expert_id"], second["expert_id"]}

    await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=third["id"], by="Sở Nội vụ"))
    await system.ok(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment(assignment_id=third["id"], expert_id=third["expert_id"]))
    await system.ok(s.HOURS_LOG, m.LogHours(assignment_id=third["id"], expert_id=third["expert_id"], hours=3))
    await system.ok(
        s.REQUEST_COMPLETE,
        m.CompleteRequest(request_id="r1", by="commune officer", rating=5),
        as_=people.commune("w2269"),
    )

    st = await system.until(
        lambda st: (
            st if any(r["id"] == "r1" and r["status"] == "completed" for r in st["matcher"]["requests"]) else None
        ),
        what="r1 completed in the matcher",
    )
    c = flow.balance(st, third["contract_id"])
    assert (c["hours_used"], c["hours_reserved"], c["active_assignments"]) == (3, 0, 0)
    assert c["budget_used_vnd"] == 3 * int(third["contract_id"][1:]) * 100_000 + 3 * 100_000

    # every party heard what concerns it, once per event
    expert_box = await _inbox_until(system, f"expert:{third['expert_id']}", {"task_new", "request_completed"})
    unit_box = await _inbox_until(
        system,
        "unit:w2269",
        {"request_received", "request_matched", "request_approved", "task_accepted", "request_completed"},
    )
    staff_box = await _inbox_until(
        system, "staff:home-affairs", {"proposal_waiting", "task_accepted", "request_completed"}
    )
    assert any(n["kind"] == "task_new" and third["id"] in n["body"] for n in expert_box), "expert not told of the task"
    for box in (expert_box, unit_box, staff_box):
        keys = [(n["kind"], n.get("source_event_id"), n["subject"]) for n in box]
        assert len(keys) == len(set(keys)), "a notification was delivered twice"

    # a cancellation releases what was reserved
    await flow.submit(system, "r2")
    p = await flow.proposal_for(system, "r2")
    before = flow.balance(await system.status(), p["contract_id"])
    await system.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="Sở Nội vụ"))
    assert flow.balance(await system.status(), p["contract_id"])["hours_reserved"] == 4
    await system.ok(s.REQUEST_CANCEL, m.CancelRequest(request_id="r2", by="commune officer", reason="solved locally"))
    await flow.assignment(system, p["id"], "cancelled")
    st = await system.status()
    assert flow.balance(st, p["contract_id"]) == before, "the cancellation released all it had reserved"


async def _inbox_until(system: System, party: str, kinds: set[str]) -> list[dict]:
    import asyncio

    for _ in range(100):
        box = await flow.inbox(system, party)
        if kinds <= {n["kind"] for n in box}:
            return box
        await asyncio.sleep(0.2)
    raise AssertionError(f"{party} lacks {kinds - {n['kind'] for n in box}}: {[n['kind'] for n in box]}")


async def test_invalid_requests_are_refused_with_the_field_named(system: System) -> None:
    await flow.load_reference(system, n_experts=1)
    reply = await system.call(s.REQUEST_SUBMIT, m.SubmitRequest(request=flow.request("r9", unit="w9999")))
    assert not reply.ok and reply.field_errors[0].field == "request.unit" and "w9999" in reply.error
    bad = m.SubmitRequest(request=flow.request("r9")).model_dump(mode="json")
    bad["request"]["hours"] = -2
    bad["request"]["skills"] = {"digital_signature": 9}
    import json

    reply = await system.call(s.REQUEST_SUBMIT, json.dumps(bad).encode())
    fields = {f.field for f in reply.field_errors}
    assert not reply.ok and {"request.hours", "request.skills.digital_signature"} <= fields
