"""The contracts service's rules on its own database (SQLite, and PostgreSQL when asked): the two
kinds of contract, the lifecycle, automatic exhaustion, and the reports."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from services.contracts import handlers as h
from services.contracts import lifecycle, reference, reports, work
from services.contracts.db import ContractRow
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared.bus import Rejected
from shared.db import transaction
from tests import people
from tests.integration.test_ledger import EXPERT, TODAY, UNIT, contract, setup

SHARED = {**EXPERT, "id": "e2", "kind": "shared", "name": "Cán bộ xã"}


def register(engine, **fields) -> m.Reply:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return people.call(reference.register_reference, s, m.RegisterReference(**fields), today=TODAY)


def refused(engine, **fields) -> Rejected:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejected) as err:
        register(engine, **fields)
    return err.value


def test_project_contracts_pay_and_sharing_agreements_lend_staff(db_url: str) -> None:
    engine = setup(db_url, n=0, hours=1)
    err = refused(engine, contracts=[contract(id="c2", hourly_rate_vnd=0)])
    assert err.field == "contracts[0].hourly_rate_vnd" and "a project contract pays by the hour" in err.message
    err = refused(engine, contracts=[contract(id="c2", kind="sharing", hourly_rate_vnd=0)])
    assert err.field == "contracts[0].kind" and "expert e1 is a contract expert" in err.message
    # a shared staff member lent with no fee, another with an internal allowance
    register(
        engine,
        experts=[SHARED],
        contracts=[
            contract(id="s1", expert="e2", kind="sharing", hourly_rate_vnd=0),
            contract(id="s2", expert="e2", kind="sharing", hourly_rate_vnd=50_000),
        ],
    )
    with Session(engine) as s:
        assert s.get(ContractRow, "s1").kind == "sharing"


def test_nothing_of_a_refused_registration_is_kept(db_url: str) -> None:
    engine = setup(db_url, n=0, hours=1)
    # refused at the second contract, after the unit and the first contract were written
    err = refused(
        engine,
        units=[{**UNIT, "id": "u9"}],
        contracts=[contract(id="c2"), contract(id="c3")],
        contract_status={"c3": "expired"},
    )
    assert err.field == "contracts[1].status"
    with Session(engine) as s:
        assert s.get(ContractRow, "c2") is None
        assert rpc.read(E.CONTRACTS_STATUS, h.status(s, m.GetContractsStatus())).counts.units == 1


def test_status_is_set_by_the_lifecycle_not_by_registering_again(db_url: str) -> None:
    engine = setup(db_url, n=0, hours=1)
    err = refused(engine, contracts=[contract(id="c2")], contract_status={"c2": "suspended"})
    assert err.field == "contracts[0].status"
    with transaction(engine) as s:
        people.call(
            lifecycle.change_status,
            s,
            m.ChangeContractStatus(contract_id="c1", to="suspended", by="staff", reason="audit"),
            today=TODAY,
        )
    err = refused(engine, contracts=[contract()], contract_status={"c1": "active"})
    assert "c1 is suspended" in err.message
    register(engine, contracts=[contract(hours_cap=20)], contract_status={"c1": "suspended"})
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        assert (c.status, c.cap_minutes) == ("suspended", 1200)


@pytest.mark.parametrize(
    ("start", "to", "reason", "error"),
    [
        ("active", "active", "", "already active"),
        ("active", "suspended", "", "a reason is required"),
        ("draft", "suspended", "x", "draft; it cannot become suspended"),
    ],
)
def test_lifecycle_moves_are_checked(db_url: str, start: str, to: str, reason: str, error: str) -> None:
    engine = setup(db_url, n=0, hours=1)
    if start == "draft":
        register(engine, contracts=[contract(id="c2")], contract_status={"c2": "draft"})
    with pytest.raises(Rejected, match=error), transaction(engine) as s:
        people.call(
            lifecycle.change_status,
            s,
            m.ChangeContractStatus(contract_id="c2" if start == "draft" else "c1", to=to, by="staff", reason=reason),
            today=TODAY,
        )


def test_a_contract_with_nothing_left_is_exhausted_until_room_is_freed(db_url: str) -> None:
    engine = setup(db_url, n=3, hours=5)  # cap 10 h: two approvals fill it
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="staff"))
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a1", by="staff"))
    with Session(engine) as s:
        assert s.get(ContractRow, "c1").status == "exhausted"
    with pytest.raises(Rejected, match="hours cap 10 h: 10 h used or reserved, 0 h left"), transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a2", by="staff"))
    with transaction(engine) as s:
        people.call(h.decline, s, m.DeclineAssignment(assignment_id="a0", expert_id="e1", reason="sick"))
    with Session(engine) as s:
        assert s.get(ContractRow, "c1").status == "active"
        trail = rpc.read(E.AUDIT, h.audit_trail(s, m.GetAudit(subject="contract:c1")))
        statuses = [e.after["status"] for e in trail.entries]
    assert statuses == ["exhausted", "active"]


def test_reports_per_contract_unit_and_expert(db_url: str) -> None:
    engine = setup(db_url, n=2, hours=2, budget_cap_vnd=1_000_000)
    with transaction(engine) as s:
        work.copy_request(
            s,
            m.RequestSubmitted(
                request=m.Request(
                    id="r9",
                    unit="u1",
                    title="never matched",
                    mode="remote",
                    hours=1,
                    priority=1,
                    deadline=dt.date(2026, 7, 1),
                ),
                by="commune",
            ),
        )
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="staff"))
        people.call(h.accept, s, m.AcceptAssignment(assignment_id="a0", expert_id="e1"))
        people.call(work.log_hours, s, m.LogHours(assignment_id="a0", expert_id="e1", hours=1.5))
    with Session(engine) as s:

        def rows(kind: str) -> list[dict]:
            rows = rpc.read(E.REPORT, reports.report(s, m.GetReport(kind=kind), today=TODAY)).rows
            return [r.model_dump(mode="json") for r in rows]

        (c,) = rows("contracts")
        assert (c["hours_cap"], c["hours_used"], c["hours_reserved"], c["hours_left"]) == (10, 1.5, 0.5, 8)
        assert (c["budget_used_vnd"], c["budget_reserved_vnd"], c["budget_left_vnd"]) == (150_000, 50_000, 800_000)
        assert c["days_to_expiry"] == (dt.date(2027, 12, 31) - TODAY).days
        (u,) = rows("units")
        assert (u["requests"], u["covered"], u["hours_received"], u["cost_vnd"]) == (3, 1, 1.5, 150_000)
        (e,) = rows("experts")
        assert (e["load_hours"], e["hours_logged"], e["assignments_accepted"], e["assignments_proposed"]) == (
            2,
            1.5,
            1,
            1,
        )
        assert e["load_pct"] == 0.2
