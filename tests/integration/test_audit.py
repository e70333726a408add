"""The audit trail is tamper-evident: an edited or deleted entry is detected."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from services.contracts import audit
from services.contracts import handlers as h
from shared import messages as m
from shared.db import transaction
from tests import people
from tests.integration.test_ledger import race, setup


def _trail(engine) -> list[dict]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return audit.rows(s)


def _verify(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return people.verify_audit(s)


def test_every_decision_is_in_the_trail_with_reason_and_contract_line(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=2)
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="Trần Thị B", comment="ok"))
    trail = _trail(engine)
    assert [e["action"] for e in trail] == ["register", "propose", "approve"]
    approve = trail[-1]
    # Who signed the command (the operator), never the `by` it carries.
    assert approve["actor"] == "operator" and approve["before"] == {"status": "proposed"}
    assert (approve["actor_role"], approve["actor_party"], approve["channel"]) == ("admin", "staff:operator", "cli")
    assert approve["after"] == {"status": "approved"}
    assert approve["detail"]["contract_line"] == {
        "contract": "c1",
        "kind": "project",
        "minutes": 120,
        "vnd": 200_000,
        "hourly_rate_vnd": 100_000,
        "left_minutes_after": 480,
        "left_vnd_after": None,
    }
    propose = trail[1]
    assert propose["actor"] == "matcher" and propose["detail"]["request"]["id"] == "r0"
    assert "plan_input_sha256" in approve["detail"] and "explanation" in approve["detail"]
    assert _verify(engine) == []


def test_concurrent_decisions_keep_one_unbroken_chain(db_url: str) -> None:
    engine = setup(db_url, n=6, hours=1)
    race(engine, 6)
    assert _verify(engine) == []
    assert [e["seq"] for e in _trail(engine)] == list(range(1, 1 + 1 + 6 + 6))


def test_an_edited_entry_is_detected(db_url: str) -> None:
    engine = setup(db_url, n=1, hours=2)
    with transaction(engine) as s:
        people.call(h.approve, s, m.ApproveAssignment(assignment_id="a0", by="staff"))
    with engine.begin() as c:
        c.execute(text("UPDATE audit_entry SET actor = 'someone else' WHERE seq = 3"))
    problems = _verify(engine)
    assert problems == [
        "entry 3 was edited after it was written (approve assignment:a0)",
        "entry 3 names someone else (admin) but was signed by operator (admin)",
    ]


def test_a_deleted_entry_is_detected(db_url: str) -> None:
    engine = setup(db_url, n=3, hours=1)
    race(engine, 3)
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    assert any("entries 2..2 are missing" in p for p in _verify(engine))
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_entry WHERE seq = (SELECT MAX(seq) FROM audit_entry)"))
    assert any("the last were deleted" in p for p in _verify(engine))
