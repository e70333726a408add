"""The matcher's 0002: a database where two live proposals share a slot (what two copies fighting
left behind) is upgraded to one live proposal per slot, the held one kept; two held ones stop it.
Its 0005: a proposal waiting for staff, `pending` in the rows of older versions, is `proposed`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.matcher import migrate
from shared.db import make_engine


def _proposals(engine, rows: list[tuple[str, str, str]], trainee: bool = False) -> None:  # type: ignore[no-untyped-def]
    """`trainee`: the columns 0004 added, as a row written since then has them."""
    more, values = (", trainee_minutes", ", 0") if trainee else ("", "")
    with engine.begin() as c:
        for i, (pid, rid, status) in enumerate(rows):
            c.execute(
                text(
                    "INSERT INTO proposal (id, request_id, slot, expert_id, contract_id, mode, travel_minutes, minutes,"
                    f" cost_vnd, status, created_at{more}) VALUES (:id, :rid, 0, 'e1', 'c1', 'remote', 0, 240, 400000,"
                    f" :status, :at{values})"
                ),
                dict(id=pid, rid=rid, status=status, at=f"2026-11-30 10:00:0{i}+00:00"),
            )


def _statuses(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return dict(c.execute(text("SELECT id, status FROM proposal")).all())  # type: ignore[arg-type]


def test_two_live_proposals_of_one_slot_become_one(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    _proposals(
        engine,
        [
            ("a1", "r1", "pending"),
            ("a2", "r1", "approved"),
            ("a3", "r1", "pending"),
            ("b1", "r2", "pending"),
            ("b2", "r2", "pending"),
            ("c1", "r3", "declined"),
        ],
    )
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.MIGRATIONS.head()
    assert _statuses(engine) == {
        "a1": "withdrawn",
        "a2": "approved",
        "a3": "withdrawn",
        "b1": "withdrawn",
        "b2": "proposed",  # 0005's word for the pending one kept
        "c1": "declined",
    }
    engine.dispose()


def test_two_held_proposals_of_one_slot_are_named_not_guessed_at(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    _proposals(engine, [("a1", "r130", "approved"), ("a2", "r130", "accepted")])
    with pytest.raises(RuntimeError, match=r"two approved or accepted proposals.*: r130/0 \(2 held\)"):
        migrate.upgrade(engine)
    assert migrate.current(engine) == "0001" and _statuses(engine) == {"a1": "approved", "a2": "accepted"}
    engine.dispose()


def test_pending_proposals_become_proposed_and_the_slot_index_follows_the_word(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0004")
    _proposals(engine, [("a1", "r1", "pending"), ("a2", "r2", "approved"), ("a3", "r3", "withdrawn")], trainee=True)
    migrate.upgrade(engine)
    assert _statuses(engine) == {"a1": "proposed", "a2": "approved", "a3": "withdrawn"}
    with pytest.raises(IntegrityError):  # a second live proposal for r1's slot: refused by the index
        _proposals(engine, [("a4", "r1", "proposed")], trainee=True)
    _proposals(engine, [("a5", "r3", "proposed")], trainee=True)
    assert _statuses(engine)["a5"] == "proposed"
    engine.dispose()
