"""A transaction the database aborted for a deadlock or a serialization failure runs again, a
bounded number of times; any other database error is not retried."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from shared.db import RETRIES, retrying


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing(sqlstate: str, times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def run() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("UPDATE contract ...", {}, _PgError(sqlstate))
        return "committed"

    return calls, run


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock_detected, serialization_failure
def test_a_deadlocked_transaction_runs_again(sqlstate: str) -> None:
    calls, run = failing(sqlstate, 2)
    assert retrying(run) == "committed" and len(calls) == 3  # type: ignore[arg-type]


def test_retries_are_bounded() -> None:
    calls, run = failing("40P01", RETRIES + 5)
    with pytest.raises(OperationalError):
        retrying(run)  # type: ignore[arg-type]
    assert len(calls) == RETRIES


def test_other_database_errors_are_not_retried() -> None:
    calls, run = failing("23505", 1)  # unique_violation
    with pytest.raises(OperationalError):
        retrying(run)  # type: ignore[arg-type]
    assert len(calls) == 1
