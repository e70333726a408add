"""A contract's lifecycle over a real nats-server: the matcher plans only with active contracts.

Suspending or terminating a contract is an event; the matcher, which knows contracts only from
events, withdraws what it proposed under it and plans with the others. Termination also cancels
approved work and releases its reservation; a draft is not planned with until activated; a
contract past its last day is expired.
"""

from __future__ import annotations

import datetime as dt

from pytest import MonkeyPatch
from sqlmodel import Session

from services.matcher.app import Replanner
from services.matcher.db import ContractCopy
from services.matcher.placement import Reference, reference_key
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import reader
from tests import people
from tests.integration.services_harness import Stack, contract, expert, request_status


async def test_a_suspended_contract_is_no_longer_offered_and_a_resumed_one_is(stack: Stack) -> None:
    # c0 is the cheaper one: the matcher proposes it first.
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    await stack.submit("r1")
    first = await stack.proposal("r1", contract="c0")

    done = await stack.ok(
        s.CONTRACT_STATUS_CHANGE,
        m.ChangeContractStatus(contract_id="c0", to="suspended", by="Sở Nội vụ", reason="invoice dispute"),
    )
    assert done["status"] == "suspended"
    await stack.until(
        lambda st: any(a["id"] == first["id"] and a["status"] == "withdrawn" for a in st["contracts"]["assignments"]),
        what="c0's proposal withdrawn",
    )
    second = await stack.proposal("r1", contract="c1")
    assert second["expert_id"] == "e1"
    refused = await stack.call(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=first["id"], by="staff"))
    assert not refused.ok and "withdrawn" in refused.error

    # with both suspended nothing can be offered; resuming brings the contract back
    await stack.ok(
        s.CONTRACT_STATUS_CHANGE,
        m.ChangeContractStatus(contract_id="c1", to="suspended", by="Sở Nội vụ", reason="audit"),
    )
    await stack.until(lambda st: request_status(st, "r1") == "unmatched", what="r1 unmatched")
    await stack.ok(s.CONTRACT_STATUS_CHANGE, m.ChangeContractStatus(contract_id="c0", to="active", by="Sở Nội vụ"))
    again = await stack.proposal("r1", contract="c0")
    approved = await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=again["id"], by="staff"))
    assert approved["reserved_minutes"] == 240


async def test_terminating_a_contract_cancels_its_open_work_and_releases_it(stack: Stack) -> None:
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    await stack.submit("r1")
    p = await stack.proposal("r1", contract="c0")
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=p["id"], by="staff"))

    no_reason = await stack.call(
        s.CONTRACT_STATUS_CHANGE, m.ChangeContractStatus(contract_id="c0", to="terminated", by="Sở Nội vụ")
    )
    assert not no_reason.ok and no_reason.field_errors[0].field == "reason"
    done = await stack.ok(
        s.CONTRACT_STATUS_CHANGE,
        m.ChangeContractStatus(contract_id="c0", to="terminated", by="Sở Nội vụ", reason="expert left the province"),
    )
    assert done["cancelled_assignments"] == 1

    st = await stack.status()
    c0 = next(c for c in st["contracts"]["contracts"] if c["id"] == "c0")
    assert (c0["status"], c0["hours_reserved"], c0["active_assignments"]) == ("terminated", 0, 0)
    assert (await stack.assignment(p["id"]))["status"] == "cancelled"
    await stack.proposal("r1", contract="c1")  # back to matching, under the other contract
    again = await stack.call(
        s.CONTRACT_STATUS_CHANGE, m.ChangeContractStatus(contract_id="c0", to="active", by="Sở Nội vụ")
    )
    assert not again.ok and "terminated" in again.error

    trail = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject="contract:c0")))["entries"]
    assert [(e["before"]["status"], e["after"]["status"], e["actor"]) for e in trail] == [
        ("active", "terminated", "operator")  # who signed, not the `by` the message carries
    ]
    assert trail[0]["detail"]["reason"] == "expert left the province"


async def test_a_draft_is_planned_with_only_once_activated(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)], contract_status={"c0": "draft"})
    await stack.submit("r1")
    await stack.until(lambda st: request_status(st, "r1") == "unmatched", what="r1 unmatched")
    await stack.ok(s.CONTRACT_STATUS_CHANGE, m.ChangeContractStatus(contract_id="c0", to="active", by="staff"))
    await stack.proposal("r1", contract="c0")


async def test_contracts_past_their_last_day_expire(utc_hour: dt.datetime, stack: Stack) -> None:
    ended = contract(1, start=str(local_today() - dt.timedelta(days=60)), end=str(local_today() - dt.timedelta(days=1)))
    await stack.register([expert(0), expert(1)], [contract(0, end=str(local_today() + dt.timedelta(days=3))), ended])
    st = await stack.status()
    assert {c["id"]: c["status"] for c in st["contracts"]["contracts"]} == {"c0": "active", "c1": "expired"}

    swept = await stack.ok(s.CONTRACTS_EXPIRE, m.ExpireContracts(today=local_today() + dt.timedelta(days=4)))
    assert swept["expired"] == ["c0"]
    await stack.submit("r1")
    # The status event may reach the matcher after r1 did: a proposal made meanwhile is withdrawn.
    await stack.until(lambda st: request_status(st, "r1") == "unmatched", what="r1 unmatched")
    matcher = (await stack.status())["matcher"]
    assert not [p for p in matcher["proposals"] if p["request_id"] == "r1" and p["status"] != "withdrawn"]


async def test_the_service_expires_contracts_by_itself(utc_hour, tmp_path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    # registered yesterday, when its last day had not passed: the running service's sweep expires it
    from services.contracts import reference
    from services.contracts.db import create_schema
    from shared.db import make_engine, transaction
    from shared.nats import free_port, start_nats
    from tests.integration.services_harness import UNITS

    engine = make_engine(db_url)
    create_schema(engine)
    yesterday = local_today() - dt.timedelta(days=1)
    with transaction(engine) as s_:
        people.call(
            reference.register_reference,
            s_,
            m.RegisterReference(units=UNITS, experts=[expert(0)], contracts=[contract(0, end=str(yesterday))]),
            today=yesterday,
        )
    engine.dispose()
    server = start_nats(tmp_path / "nats", free_port())
    try:
        async with Stack(server.url, db_url, tmp_path) as stack:
            await stack.until(
                lambda st: st["contracts"]["contracts"][0]["status"] == "expired", what="c0 expired by the sweep"
            )
            trail = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject="contract:c0")))["entries"]
            assert [(e["actor"], e["after"]["status"]) for e in trail] == [("contracts", "expired")]
    finally:
        server.stop()


async def test_a_placement_reads_the_copies_again_under_its_lock(stack: Stack, monkeypatch: MonkeyPatch) -> None:
    """The placement reads the copies (units, experts, contracts) before it takes the write lock,
    so that a copy that changed is built again without holding it. A contract that expired in
    between (its status event committed after that read, before the placement's transaction) is
    never given work: the copies are read again under the lock. Held deterministically: the read
    outside the lock is answered with the copies as they were before the expiry."""
    await stack.register([expert(0)], [contract(0, end=str(local_today() + dt.timedelta(days=3)))])
    with Session(reader(stack.matcher.engine)) as session:
        before = Reference.read(session, local_today(), reference_key(session, local_today()))
    assert before.active.tolist() == [True]
    await stack.ok(s.CONTRACTS_EXPIRE, m.ExpireContracts(today=local_today() + dt.timedelta(days=4)))
    await stack.until(lambda _st: _copy_status(stack, "c0") == "expired", what="the matcher's copy of c0 expired")
    real = Replanner.reference

    def as_read_before_the_expiry(self: Replanner, session: Session) -> Reference:
        return before if session.get_bind() is not self.svc.engine else real(self, session)

    monkeypatch.setattr(Replanner, "reference", as_read_before_the_expiry)
    await stack.submit("r1")
    await stack.until(lambda st: request_status(st, "r1") == "unmatched", what="r1 unmatched")
    st = await stack.status()
    assert not [p for p in st["matcher"]["proposals"] if p["request_id"] == "r1"], "no work under an expired contract"


def _copy_status(stack: Stack, contract_id: str) -> str | None:
    with Session(reader(stack.matcher.engine)) as session:
        row = session.get(ContractCopy, contract_id)
        return None if row is None else row.record.get("status")
