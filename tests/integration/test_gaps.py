"""The shortage report from the live system (`matcher.gaps.get`, `contracts.gaps.get`) over a real
nats-server: every request of the period counted once, covered + uncovered = demand, the time to
approval from the ledger, and a bad period refused with a clear error naming the field."""

from __future__ import annotations

import datetime as dt

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.integration.services_harness import Stack, contract, expert, request_status


async def test_the_live_report_adds_up_and_measures_the_wait_for_approval(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r1")  # digital signatures, e0 can: covered
    await stack.submit("r2", skills={"info_security": 3}, priority=5, title="An toàn thông tin")  # nobody can
    await stack.submit("r3", hours=2)  # covered, then cancelled
    await stack.submit("r4", unit="u2", hours=3, priority=2)
    approved = await stack.proposal("r1")
    await stack.proposal("r3")
    await stack.proposal("r4")
    await stack.until(lambda st: request_status(st, "r2") == "unmatched", what="r2 unmatched")
    await stack.ok(s.ASSIGNMENT_APPROVE, m.ApproveAssignment(assignment_id=approved["id"], by="staff"))
    await stack.ok(s.REQUEST_CANCEL, m.CancelRequest(request_id="r3", by="staff"))
    await stack.until(
        lambda st: request_status(st, "r1") == "approved" and request_status(st, "r3") == "cancelled",
        what="r1 approved, r3 cancelled",
    )

    report = await stack.ask(E.GAPS, m.GetGaps())
    assert report.requests == 4 and report.cancelled == 1
    t = report.total
    assert (t.requests, t.covered_requests, t.uncovered_requests) == (3, 2, 1)
    assert (t.hours, t.uncovered_hours) == (11, 4)
    assert (t.weight, t.covered_weight, t.uncovered_weight) == (8 + 2 + 16, 8 + 2, 16)
    for rows in (report.by_skill, report.by_unit, report.by_province, report.by_month):
        assert sum(r.requests for r in rows) == t.requests
        assert sum(r.uncovered_weight for r in rows) == t.uncovered_weight
        assert all(r.covered_requests + r.uncovered_requests == r.requests for r in rows)
    assert report.by_skill[0].key == "info_security=3" and report.by_skill[0].uncovered_weight == 16
    assert report.by_month == [report.by_month[0]] and report.by_month[0].key == f"{local_today():%Y-%m}"
    assert sum(c.assignments for c in report.covered_by if c.by == "mode") == 2
    assert report.values == "lp_duals"
    top = report.bottlenecks[0]
    assert (top.skill, top.level, top.unit) == ("info_security", 3, "u1")
    assert top.value_per_hour == 16 / 4  # its weight over its hours: nobody else can do it
    assert next(e for e in report.experts if e.id == "e0").assignments == 2

    ledger = m.GapsReport.model_validate(await stack.ok(s.CONTRACTS_GAPS_GET, m.GetGaps()))
    assert ledger.approval is not None and ledger.approval.approved == 1
    assert ledger.approval.max_hours is not None and 0 <= ledger.approval.max_hours < 1
    c0 = next(c for c in ledger.contracts if c.id == "c0")
    assert c0.assignments == 1 and c0.used_hours == 4 and c0.cap_hours == 40

    # A period before any of them, ending before today: nothing counted, not even what is open.
    old = m.GetGaps(from_date=local_today() - dt.timedelta(days=200), to_date=local_today() - dt.timedelta(days=100))
    empty = await stack.ask(E.GAPS, old)
    assert empty.requests == 0 and empty.total.requests == 0


async def test_a_bad_period_is_refused_with_the_field_named(stack: Stack) -> None:
    today = local_today()
    for subject in (s.GAPS_GET, s.CONTRACTS_GAPS_GET):
        backwards = await stack.call(
            subject, m.GetGaps.model_construct(from_date=today, to_date=today - dt.timedelta(days=1), with_values=False)
        )
        assert not backwards.ok and "before from_date" in (backwards.error or "")
        too_long = await stack.call(
            subject,
            m.GetGaps.model_construct(from_date=today - dt.timedelta(days=400), to_date=today, with_values=False),
        )
        assert not too_long.ok and "at most 366 days" in (too_long.error or "")
        # Only the first day, the last defaulting to today: the same limit, said the same way.
        from_only = await stack.call(subject, m.GetGaps(from_date=today - dt.timedelta(days=500)))
        assert not from_only.ok and "501 days long; at most 366 days" in (from_only.error or "")
        assert from_only.field_errors and from_only.field_errors[0].field == "from_date"
        not_a_date = await stack.call(subject, b'{"from_date": "2026-13-45"}')
        assert not not_a_date.ok and "from_date" in (not_a_date.error or "")
