"""Deadlines are Vietnam's days, whatever the hour of the machine: each test runs as if it were
16:30 UTC (23:30 in Vietnam, the same day) and 23:30 UTC (06:30 of the next day in Vietnam)."""

from __future__ import annotations

import datetime as dt

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.integration.services_harness import Stack, contract, expert, request


async def test_a_deadline_is_past_only_once_vietnam_s_day_is_over(utc_hour: dt.datetime, stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    today = local_today()
    yesterday = today - dt.timedelta(days=1)
    late = await stack.call(s.REQUEST_SUBMIT, m.SubmitRequest(request=request("r-late", deadline=str(yesterday))))
    assert not late.ok
    assert late.error == f"deadline {yesterday} is already past (today is {today})"
    assert [e.field for e in late.field_errors] == ["request.deadline"]
    # At 23:30 UTC the machine's calendar still says `yesterday`; the commune's day does not.
    assert (utc_hour.date() == yesterday) == (utc_hour.hour >= 17)

    due_today = await stack.ask(E.REQUEST_SUBMIT, m.SubmitRequest(request=request("r-today", deadline=str(today))))
    assert due_today.status == "open"
    await stack.proposal("r-today")
