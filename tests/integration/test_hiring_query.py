"""The hiring plan as a matcher query (`matcher.hiring_plan.get`) over a real nats-server: on what
is open now, for staff only (a signed query), a bad budget or menu refused naming the field, and
the plan's figures those of the engine (the request nobody could serve is covered by the hire)."""

from __future__ import annotations

from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from tests import people
from tests.integration.services_harness import Stack, contract, expert, request_status

SECURITY = {"id": "sec", "skills": {"info_security": 3}, "home_unit": "u1", "hours_cap": 10, "hourly_rate_vnd": 100_000}


async def test_staff_get_a_hiring_plan_on_what_is_open_now(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    await stack.submit("r2", skills={"info_security": 3}, priority=5, title="An toàn thông tin")  # nobody can
    await stack.until(lambda st: request_status(st, "r2") == "unmatched", what="r2 unmatched")

    plan = await stack.ask(
        E.HIRING_PLAN, m.GetHiringPlan(budget_vnd=5_000_000, candidates=[SECURITY]), timeout=60, as_=people.staff()
    )
    assert plan.menu == "file" and plan.candidates == 1 and plan.requests == 1
    assert [h.candidate for h in plan.hires] == ["sec"] and plan.cost_vnd == 1_000_000 <= plan.budget_vnd
    assert plan.covered_weight_before == 0 and plan.covered_weight_after == 16 == plan.gain
    assert plan.hires[0].covers.requests == ["r2"] and plan.verified
    assert plan.simple_rule is not None and plan.simple_rule.covered_weight_after == 16
    assert plan.experts[0].id == "hire-sec" and plan.contracts[0].id == "hire-sec-c"

    poor = m.HiringPlanView.model_validate(
        await stack.ok(s.HIRING_PLAN_GET, m.GetHiringPlan(budget_vnd=999_999, candidates=[SECURITY]), timeout=60)
    )
    assert poor.hires == [] and poor.gain == 0, "never over budget"


async def test_the_hiring_plan_is_for_staff_and_refuses_bad_input(stack: Stack) -> None:
    await stack.register([expert(0)], [contract(0)])
    q = m.GetHiringPlan(budget_vnd=1_000_000)
    commune = await stack.call(s.HIRING_PLAN_GET, q, as_=people.commune("u1"))
    assert not commune.ok and "it is for admin or staff" in (commune.error or "")
    unsigned = await stack.call(s.HIRING_PLAN_GET, q.model_dump_json().encode())
    assert not unsigned.ok and "not signed in" in (unsigned.error or "")
    negative = await stack.call(s.HIRING_PLAN_GET, b'{"budget_vnd": -5}')
    assert not negative.ok and "budget_vnd" in (negative.error or "")
    bad_menu = m.GetHiringPlan(budget_vnd=1, candidates=[{**SECURITY, "home_unit": "x"}])
    bad = await stack.call(s.HIRING_PLAN_GET, bad_menu)
    assert not bad.ok and bad.field_errors[0].field == "candidates" and "unknown unit 'x'" in (bad.error or "")
    empty = await stack.ask(E.HIRING_PLAN, q)
    assert empty.requests == 0 and empty.hires == [] and empty.covered_weight_after == 0
