"""The contracts schema comes from the Alembic migrations, on SQLite and PostgreSQL.

A database made before migrations existed is adopted and upgraded with its data; money columns
hold amounts past 32 bits; a downgrade round-trips. (That the migrated schema matches the models,
and that two copies may start at once, is tested for every service in test_schema_services.py.)
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session

from services.contracts import migrate
from services.contracts.db import ContractRow, create_schema, metadata
from shared.db import make_engine, transaction


def _diff(engine) -> list:  # type: ignore[no-untyped-def]
    return migrate.MIGRATIONS.diff(engine, metadata())


def test_a_database_from_before_migrations_is_adopted_and_upgraded(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as c:  # what `create_all` made before: no alembic_version
        c.execute(text("DROP TABLE alembic_version"))
        record = {"id": "c1", "expert": "e1", "kind": "sharing", "start": "2026-01-01", "end": "2026-12-31"}
        c.execute(
            text(
                "INSERT INTO contract (id, expert_id, record, status, hourly_rate_vnd, cap_minutes, "
                "used_minutes_before, budget_cap_vnd, budget_used_before_vnd, max_concurrent, active_before, "
                "reserved_minutes, consumed_minutes, reserved_vnd, consumed_vnd, active_count) VALUES "
                "('c1', 'e1', :r, 'active', 0, 600, 0, NULL, 0, 3, 0, 60, 0, 0, 0, 1)"
            ),
            {"r": json.dumps(record)},
        )
    create_schema(engine)
    assert migrate.current(engine) == "0007" and _diff(engine) == []
    with Session(engine) as s:
        c = s.get(ContractRow, "c1")
        assert (c.kind, c.starts_on, c.ends_on, c.reserved_minutes) == (
            "sharing",
            dt.date(2026, 1, 1),
            dt.date(2026, 12, 31),
            60,
        )


def test_money_columns_hold_more_than_32_bits(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    big = 12_500_000_000  # 12.5 billion dong: a province's programme budget
    with transaction(engine) as s:
        s.add(
            ContractRow(
                id="c1",
                expert_id="e1",
                record={},
                starts_on=dt.date(2026, 1, 1),
                ends_on=dt.date(2026, 12, 31),
                hourly_rate_vnd=300_000,
                cap_minutes=60,
                used_minutes_before=0,
                budget_cap_vnd=big,
                max_concurrent=1,
            )
        )
    with Session(engine) as s:
        assert s.get(ContractRow, "c1").budget_cap_vnd == big


def test_downgrade_then_upgrade_round_trips(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as conn:
        from alembic import command

        command.downgrade(migrate.config(conn), "0001")
    names = set(inspect(engine).get_table_names())
    assert "request_copy" not in names and "contract" in names
    create_schema(engine)
    assert _diff(engine) == []


def test_a_database_holding_a_double_booked_slot_is_not_upgraded_behind_staffs_back(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0004")
    with engine.begin() as c:
        for aid in ("a1", "a2"):
            c.execute(
                text(
                    "INSERT INTO assignment (id, request_id, slot, unit_id, title, expert_id, contract_id, mode, "
                    "hours, deadline, travel_minutes, minutes, cost_vnd, explanation, plan_input_sha256, status, "
                    "origin, reserved_minutes, reserved_vnd, logged_minutes, consumed_vnd, extra_minutes_pending, "
                    "decided_by, "
                    "note, created_at, updated_at) VALUES (:id, 'r130', 0, 'u1', '', 'e1', 'c1', 'remote', 1, "
                    "'2026-12-31', 0, 60, 0, '{}', '', 'approved', 'solver', 60, 0, 0, 0, 0, '', '', "
                    "'2026-06-01 00:00:00+00:00', '2026-06-01 00:00:00+00:00')"
                ),
                {"id": aid},
            )
    with pytest.raises(RuntimeError, match=r"r130/0 \(2 assignments\)"):
        create_schema(engine)
    assert migrate.current(engine) == "0004"
