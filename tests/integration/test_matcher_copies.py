"""The matcher's copies of reference data over a real nats-server, whatever order events arrive in.

Units, experts, contracts and balances are events of different subjects, each read by its own
durable consumer: a balance can arrive before its contract, a contract before its expert. Nothing
may be lost (dead-lettered) for that, and planning goes on with what is whole meanwhile. A request
nobody can take is announced once, not at every re-plan.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlmodel import Session, select

from services.matcher.db import ContractCopy, ExpertCopy, PlanRun, UnitCopy
from shared import messages as m
from shared import subjects as s
from shared.db import OutboxRow
from tests.integration.services_harness import Stack, contract, expert, request_status

U9 = {
    "id": "u9",
    "name": "Xã Hồng Quang",
    "province": "Tuyên Quang",
    "network": "ok",
    "location": {"lat": 22.40, "lon": 105.30},
}


async def publish(stack: Stack, subject: str, event: m.Message) -> None:
    await stack.nc.jetstream().publish(subject, event.model_dump_json(by_alias=True).encode(), stream="CONTRACTS")


def matcher_rows(stack: Stack, model: Any) -> list[Any]:
    with Session(stack.matcher.engine) as session:
        return list(session.exec(select(model)))


async def eventually(check: Any, what: str, timeout: float = 30.0) -> Any:
    for _ in range(int(timeout / 0.1)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_reference_events_in_any_order_are_all_kept_and_planning_goes_on(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r1", skills={"e_records": 2})  # nobody can: keeps a request open for planning
    plans = len(matcher_rows(stack, PlanRun))

    # The balance and the contract come before the expert and the unit they refer to.
    c9 = contract(9, expert="e9", scope_units=["u9"])
    await publish(
        stack,
        s.BALANCE_CHANGED,
        m.BalanceChanged(
            contract_id="c9",
            expert_id="e9",
            hours_used=6.0,
            budget_used_vnd=600_000,
            active_assignments=1,
            expert_committed_hours=6.0,
        ),
    )
    await publish(stack, s.CONTRACT_REGISTERED, m.ContractRegistered(contract=c9))
    # The contract's arrival is a change: the matcher plans again, without the contract it cannot use yet.
    await eventually(lambda: len(matcher_rows(stack, PlanRun)) > plans, "a plan made while c9's expert is unknown")

    e9 = expert(9, home_unit="u9", skills={"e_records": 3})
    await publish(stack, s.EXPERT_REGISTERED, m.ExpertRegistered(expert=e9))
    await publish(stack, s.UNIT_REGISTERED, m.UnitRegistered(unit=U9))
    copy = await eventually(
        lambda: next((c for c in matcher_rows(stack, ContractCopy) if c.id == "c9" and c.hours_used), None),
        "c9's balance applied once c9 arrived",
    )
    assert (copy.hours_used, copy.budget_used_vnd, copy.active_assignments) == (6.0, 600_000, 1)

    # The request names u9: wait until the matcher has it (its events come on their own consumer).
    await eventually(lambda: any(u.id == "u9" for u in matcher_rows(stack, UnitCopy)), "u9 known to the matcher")
    await stack.submit("r2", unit="u9", skills={"e_records": 2})  # only e9, under c9, can
    # (the contracts service never heard of c9: these events were the test's, so read the matcher)
    proposal = await stack.until(
        lambda st: next((p for p in st["matcher"]["proposals"] if p["request_id"] == "r2"), None), what="r2 proposed"
    )
    assert (proposal["expert_id"], proposal["contract_id"]) == ("e9", "c9")
    assert [d for d in await dead_letters(stack) if d["service"] == "matcher"] == []


async def test_a_request_nobody_can_take_is_announced_once(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r1", skills={"e_records": 2})
    for i in range(2, 5):  # each new request is a re-plan
        await stack.submit(f"r{i}")
        await stack.proposal(f"r{i}")
    runs = len(matcher_rows(stack, PlanRun))
    assert runs >= 3, "the matcher planned again for each request"
    told = [
        row
        for row in matcher_rows(stack, OutboxRow)
        if row.subject == s.REQUEST_UNMATCHED and json.loads(row.payload)["request_id"] == "r1"
    ]
    assert len(told) == 1, f"r1 announced unmatched {len(told)} times over {runs} plans"


async def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    sub = await stack.nc.jetstream().pull_subscribe("deadletter.>", stream="DEADLETTER")
    try:
        return [json.loads(msg.data) for msg in await sub.fetch(100, timeout=1)]
    except TimeoutError:
        return []
    finally:
        await sub.unsubscribe()


def balance(revision: int | None, hours_used: float) -> m.BalanceChanged:
    return m.BalanceChanged(
        contract_id="c0",
        expert_id="e0",
        hours_used=hours_used,
        budget_used_vnd=0,
        active_assignments=0,
        expert_committed_hours=hours_used,
        revision=revision,
    )


async def balances_applied_up_to(stack: Stack, seq: int) -> None:
    """Wait until the matcher's balance consumer has acknowledged every event up to stream `seq`."""
    js = stack.nc.jetstream()

    async def done() -> bool:
        info = await js.consumer_info("CONTRACTS", "matcher-balances")
        return info.ack_floor.stream_seq >= seq and not info.num_ack_pending

    for _ in range(300):
        if await done():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the matcher did not acknowledge the balances up to stream sequence {seq}")


def c0_copy(stack: Stack) -> ContractCopy:
    return next(c for c in matcher_rows(stack, ContractCopy) if c.id == "c0")


async def test_an_older_balance_arriving_after_a_newer_one_is_ignored(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    # The contracts service numbers its balances: registration is the first, an approval the next.
    await eventually(lambda: c0_copy(stack).balance_revision == 1, "c0's first balance, revision 1")
    await stack.submit("r1")
    p = await stack.proposal("r1")
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="staff"))
    copy = await eventually(lambda: (c := c0_copy(stack)).balance_revision == 2 and c, "the approval's balance")
    assert copy.hours_used == 4.0 and copy.active_assignments == 1

    # The next balance, then an older one and the same one again, delivered late (as two concurrent
    # batches can): the newer stays.
    await publish(stack, s.BALANCE_CHANGED, balance(revision=3, hours_used=9.0))
    await eventually(lambda: c0_copy(stack).balance_revision == 3, "balance revision 3 applied")
    for late in (balance(revision=2, hours_used=3.0), balance(revision=3, hours_used=3.0)):
        ack = await stack.nc.jetstream().publish(s.BALANCE_CHANGED, late.model_dump_json().encode(), stream="CONTRACTS")
    await balances_applied_up_to(stack, ack.seq)
    copy = c0_copy(stack)
    assert (copy.balance_revision, copy.hours_used) == (3, 9.0)
    expert_copy = next(e for e in matcher_rows(stack, ExpertCopy) if e.id == "e0")
    assert expert_copy.committed_hours == 9.0

    # An event of an earlier version (no revision) is still accepted, and is older than any numbered one.
    old = balance(revision=None, hours_used=1.0).model_dump(mode="json")
    del old["revision"]
    ack = await stack.nc.jetstream().publish(s.BALANCE_CHANGED, json.dumps(old).encode(), stream="CONTRACTS")
    await balances_applied_up_to(stack, ack.seq)
    assert (c0_copy(stack).balance_revision, c0_copy(stack).hours_used) == (3, 9.0)
    assert [d for d in await dead_letters(stack) if d["service"] == "matcher"] == []


async def test_a_balance_that_counts_an_approval_not_heard_of_yet_is_not_counted_twice(stack: Stack) -> None:
    """A balance and its approval travel on different subjects: the balance can come first. The
    work it counts is then still a pending proposal here, pinned in the next re-plan; counted twice,
    the contract (room for one task) would look full and the proposal would be let go."""
    await stack.register([expert(0)], [contract(0, max_concurrent=1)])
    await eventually(lambda: c0_copy(stack).balance_revision == 1, "c0's first balance")
    await stack.submit("r1")
    p = await stack.proposal("r1")
    counted = balance(revision=2, hours_used=4.0).model_copy(update={"active_assignments": 1, "counted": [p["id"]]})
    ack = await stack.nc.jetstream().publish(s.BALANCE_CHANGED, counted.model_dump_json().encode(), stream="CONTRACTS")
    await balances_applied_up_to(stack, ack.seq)
    assert c0_copy(stack).counted == p["id"]
    await stack.submit("r2")  # a re-plan, with r1's proposal still pending here
    st = await stack.until(lambda st: st if request_status(st, "r2") == "unmatched" else None, what="r2 planned")
    live = [(x["id"], x["status"]) for x in st["matcher"]["proposals"] if x["request_id"] == "r1"]
    assert live == [(p["id"], "proposed")], "r1 keeps its proposal: the contract's one task is r1's"


async def test_an_experts_total_follows_the_experts_revision_across_its_contracts(stack: Stack) -> None:
    """Two contracts of one expert publish balances, each numbered for its contract; the expert's
    total hours travel in both. The newer total stays, whichever contract's balance arrives last."""
    await stack.register([expert(0)], [contract(0), contract(9, expert="e0")])
    first = {"c0": 1, "c9": 1}
    await eventually(
        lambda: {c.id: c.balance_revision for c in matcher_rows(stack, ContractCopy)} == first,
        "both contracts and their first balances",
    )
    newer = balance(revision=2, hours_used=2.0).model_copy(
        update={"contract_id": "c9", "expert_committed_hours": 10.0, "expert_revision": 50}
    )
    older = balance(revision=2, hours_used=1.0).model_copy(
        update={"expert_committed_hours": 4.0, "expert_revision": 49}
    )
    for evt in (newer, older):
        ack = await stack.nc.jetstream().publish(s.BALANCE_CHANGED, evt.model_dump_json().encode(), stream="CONTRACTS")
        await balances_applied_up_to(stack, ack.seq)
    expert_copy = next(e for e in matcher_rows(stack, ExpertCopy) if e.id == "e0")
    assert (expert_copy.committed_hours, expert_copy.booking_revision) == (10.0, 50)
    assert c0_copy(stack).hours_used == 1.0, "the contract's own balance still applies"
