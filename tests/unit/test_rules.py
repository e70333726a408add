"""The rules as data (issue 18): one catalogue of codes with whether staff may force each and its
wording in both languages; the validator reports `Violation`s by those codes; the options builders
(`options.py`, `table.py`) refuse an option for the same rule the validator names when it is forced
into a plan; overrides decide by the rule's flag, never by a sentence."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import pytest

from services.matcher.overrides import _refuse_unless_forced
from services.matcher.solver import options, table
from services.matcher.solver.explain import MESSAGES
from services.matcher.solver.options import Travel, all_options, cost_of, forced_mode, refusal
from services.matcher.solver.plan import Assignment, Plan
from services.matcher.solver.validate import validate
from shared import messages as m
from shared.bus import Rejected
from shared.rules import REASONS, RULES, Reason, Rule, RuleSpec, Scope, Violation, reason_text, render
from shared.scenario import Scenario, minutes

Change = Callable[[dict[str, Any]], None]


def person(eid: str, unit: str, level: int, kind: str = "shared", **more: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "name": eid,
        "home_unit": unit,
        "kind": kind,
        "skills": {"office_it": level} if level else {},
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 60,
        "capacity_hours": 40,
        **more,
    }


def contract(cid: str, expert: str, **more: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "expert": expert,
        "kind": "sharing",
        "hourly_rate_vnd": 100_000,
        "hours_cap": 40,
        "max_concurrent": 5,
        "start": "2026-12-01",
        "end": "2026-12-31",
        **more,
    }


def scenario(*changes: Change) -> Scenario:
    """Commune u1 (u2 is 30 minutes away) asks for office IT level 2 for 2 h, either mode; e1 and e2
    (level 3, in u1) each have a contract (k1, k2); c1, c2, c3 are community members (c2 in u2)."""
    data: dict[str, Any] = {
        "horizon": {"start": "2026-12-01", "end": "2026-12-31"},
        "units": [{"id": u, "name": u, "province": "TQ", "network": "good"} for u in ("u1", "u2")],
        "travel_minutes": [{"from": "u1", "to": "u2", "minutes": 30}],
        "experts": [
            person("e1", "u1", 3),
            person("e2", "u1", 3),
            person("c1", "u1", 0, "community"),
            person("c2", "u2", 0, "community"),
            person("c3", "u1", 3, "community"),
        ],
        "contracts": [contract("k1", "e1"), contract("k2", "e2")],
        "requests": [
            {
                "id": "r1",
                "unit": "u1",
                "title": "t",
                "skills": {"office_it": 2},
                "mode": "either",
                "hours": 2,
                "priority": 3,
                "deadline": "2026-12-20",
            }
        ],
    }
    for change in changes:
        change(data)
    return Scenario.model_validate(data)


def record(data: dict[str, Any], kind: str, rid: str) -> dict[str, Any]:
    return next(x for x in data[kind] if x["id"] == rid)


def setting(kind: str, rid: str, **values: Any) -> Change:
    return lambda data: record(data, kind, rid).update(values)


def forced(sc: Scenario, who: str, paid_by: str, /, **change: Any) -> Assignment:
    """Slot 0 of r1 given to expert `who` under contract `paid_by` as staff would force it
    (`overrides`), with `change` made to it."""
    r = sc.requests[0]
    e = next(x for x in sc.experts if x.id == who)
    c = next(x for x in sc.contracts if x.id == paid_by)
    travel = Travel(sc)
    mode, one_way = forced_mode(r, e, travel.units[r.unit].network, travel.minutes(e.home_unit, r.unit))
    work = minutes(r.hours) + 2 * one_way
    a = Assignment(
        request=r.id,
        slot=0,
        expert=e.id,
        contract=c.id,
        mode=mode,  # type: ignore[arg-type]
        travel_minutes=one_way,
        minutes=work,
        cost_vnd=cost_of(work, c.hourly_rate_vnd),
    )
    return a.model_copy(update=change)


def found(sc: Scenario, *assignments: Assignment) -> set[Rule]:
    return {v.rule for v in validate(sc, Plan(status="feasible", assignments=list(assignments)))}


# (the change to the scenario, the expert and contract of the option it refuses)
ELIGIBILITY: dict[Rule, tuple[list[Change], str, str]] = {
    Rule.EXCLUDED: ([lambda d: d.update(excluded=[{"request": "r1", "expert": "e1"}])], "e1", "k1"),
    Rule.SKILL: ([setting("requests", "r1", skills={"office_it": 4})], "e1", "k1"),
    Rule.LANGUAGE: ([setting("requests", "r1", language="tay")], "e1", "k1"),
    Rule.MODE_REMOTE: ([setting("requests", "r1", mode="onsite"), setting("experts", "e1", onsite=False)], "e1", "k1"),
    Rule.MODE_ONSITE: ([setting("requests", "r1", mode="remote"), setting("experts", "e1", remote=False)], "e1", "k1"),
    Rule.TRAVEL: (
        [
            setting("requests", "r1", mode="onsite", unit="u2"),
            setting("experts", "e1", remote=False, max_travel_minutes=10),
        ],
        "e1",
        "k1",
    ),
    Rule.CONTRACT_OWNER: ([], "e1", "k2"),
    Rule.CONTRACT_DATES: ([setting("contracts", "k1", start="2026-12-25")], "e1", "k1"),
    Rule.CONTRACT_SCOPE: ([setting("contracts", "k1", scope_units=["u2"])], "e1", "k1"),
}

Case = Callable[[], tuple[Scenario, list[Assignment]]]


def _with(*changes: Change, **assignment: Any) -> Case:
    def case() -> tuple[Scenario, list[Assignment]]:
        sc = scenario(*changes)
        return sc, [forced(sc, "e1", "k1", **assignment)]

    return case


def _twice() -> tuple[Scenario, list[Assignment]]:
    sc = scenario()
    return sc, [forced(sc, "e1", "k1"), forced(sc, "e1", "k1")]


def _other_slot_taken() -> tuple[Scenario, list[Assignment]]:
    sc = scenario()
    return sc, [forced(sc, "e1", "k1"), forced(sc, "e2", "k2")]


def _pin_dropped() -> tuple[Scenario, list[Assignment]]:
    sc = scenario(lambda d: d.update(pinned=[{"request": "r1", "expert": "e1", "contract": "k1"}]))
    return sc, []


asks_trainee = setting("requests", "r1", trainee=True)
c1_excluded: Change = lambda d: d.update(excluded=[{"request": "r1", "expert": "c1"}])  # noqa: E731

#: The validator's rules beyond eligibility, each with a plan that breaks it.
PLANS: dict[Rule, Case] = {
    Rule.UNKNOWN: _with(expert="nobody"),
    Rule.NO_SLOT: _with(slot=1),
    Rule.SLOT_TWICE: _other_slot_taken,
    Rule.EXPERT_TWICE: _twice,
    Rule.FIGURES: _with(cost_vnd=1),
    Rule.PIN: _pin_dropped,
    Rule.EXPERT_CAPACITY: _with(setting("experts", "e1", capacity_hours=1)),
    Rule.CONTRACT_HOURS: _with(setting("contracts", "k1", hours_cap=1)),
    Rule.CONTRACT_BUDGET: _with(setting("contracts", "k1", budget_cap_vnd=1000)),
    Rule.CONTRACT_CONCURRENCY: _with(setting("contracts", "k1", max_concurrent=0)),
    Rule.TRAINEE_MINUTES_ALONE: _with(trainee_minutes=60),
    Rule.TRAINEE_UNKNOWN: _with(asks_trainee, trainee="nobody", trainee_minutes=120),
    Rule.TRAINEE_NOT_ASKED: _with(trainee="c1", trainee_minutes=120),
    Rule.TRAINEE_KIND: _with(asks_trainee, trainee="e2", trainee_minutes=120),
    Rule.TRAINEE_HOME: _with(asks_trainee, trainee="c2", trainee_minutes=120),
    Rule.TRAINEE_NOTHING_TO_LEARN: _with(asks_trainee, trainee="c3", trainee_minutes=120),
    Rule.TRAINEE_ALREADY_WORKS: _with(asks_trainee, trainee="e1", trainee_minutes=120),
    Rule.TRAINEE_EXCLUDED: _with(asks_trainee, c1_excluded, trainee="c1", trainee_minutes=120),
    Rule.TRAINEE_MINUTES: _with(asks_trainee, trainee="c1", trainee_minutes=1),
}


def test_every_rule_of_the_catalogue_is_checked_by_the_validator_or_marked_as_not_its_own() -> None:
    assert set(RULES) == set(Rule), "every code has its entry"
    theirs = {rule for rule, spec in RULES.items() if spec.validator}
    assert set(ELIGIBILITY) | set(PLANS) == theirs, "a validator rule without a case here is a rule nobody checks"
    assert options.CHECKS == set(ELIGIBILITY) == table.CHECKS, "the options builders check the same rules"


def test_the_base_scenario_breaks_no_rule() -> None:
    sc = scenario()
    assert found(sc, forced(sc, "e1", "k1")) == set()
    assert refusal(sc, sc.requests[0], 0, sc.experts[0], sc.contracts[0]) is None


@pytest.mark.parametrize("rule", list(PLANS))
def test_the_validator_reports_each_broken_rule_by_its_code(rule: Rule) -> None:
    sc, assignments = PLANS[rule]()
    assert rule in found(sc, *assignments)


@pytest.mark.parametrize("rule", list(ELIGIBILITY))
def test_an_option_refused_for_a_rule_is_reported_for_that_rule_when_forced(rule: Rule) -> None:
    changes, expert, contract_id = ELIGIBILITY[rule]
    sc = scenario(*changes)
    r = sc.requests[0]
    e = next(x for x in sc.experts if x.id == expert)
    c = next(x for x in sc.contracts if x.id == contract_id)
    assert refusal(sc, r, 0, e, c) is rule
    pair = (r.id, e.id, c.id)
    assert pair not in {(o.request, o.expert, o.contract) for o in all_options(sc)}
    assert pair not in {(o.request, o.expert, o.contract) for o in table.build(sc).options()}
    assert rule in found(sc, forced(sc, expert, contract_id))


def test_the_wording_is_the_validators_former_sentences() -> None:
    a = Violation(Rule.SKILL, "r1", 0, "e1", "k1", detail={"skill": "office_it", "level": 4})
    assert render(a) == "r1/0 -> e1: lacks office_it 4" and render(a, where=False) == "lacks office_it 4"
    hours = Violation(Rule.CONTRACT_HOURS, expert="e1", contract="c1", detail={"left_min": 180, "needs_min": 240})
    assert render(hours) == render(hours, where=False) == "contract c1: hours: 3 h left, this assignment needs 4 h"
    money = Violation(Rule.CONTRACT_BUDGET, contract="c1", detail={"left_vnd": 500_000, "needs_vnd": 600_000})
    assert str(money) == "contract c1: budget: 500.000 ₫ left, this assignment needs 600.000 ₫"
    tasks = Violation(Rule.CONTRACT_CONCURRENCY, contract="c1", detail={"max": 2, "running": 2})
    assert str(tasks) == "contract c1: at most 2 task(s) at once, 2 already running"
    pin = Violation(Rule.PIN, "r1", 1, "e1", "k1")
    assert str(pin) == "pin r1/1 -> e1 not kept"
    alone = Violation(Rule.TRAINEE_MINUTES_ALONE, "r1", 0)
    assert str(alone) == "r1/0: trainee minutes without a trainee"
    home = Violation(Rule.TRAINEE_HOME, "r1", 0, trainee="c2", detail={"home": "u2", "unit": "u1"})
    assert str(home) == "r1/0 trainee c2: lives in u2, not in the request's commune u1"
    assert render(hours, "vi") == "hợp đồng c1: số giờ: còn 3 giờ, phân công này cần 4 giờ"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_of_every_rule_and_reason_name_the_same_figures() -> None:
    for rule, spec in RULES.items():
        assert spec.vi and spec.en and spec.vi != spec.en, rule
        assert _fields(spec.vi) == _fields(spec.en), rule
    for reason, r in REASONS.items():
        assert _fields(r.vi) == _fields(r.en) <= {"language"}, reason
        assert reason_text(reason, "vi") != reason_text(reason, "en"), reason
        assert all(x in RULES for x in r.rules), reason
    assert set(REASONS) == set(Reason)


def test_the_reason_codes_on_the_wire_are_those_stored_events_carry() -> None:
    assert {str(r) for r in Reason} == {
        "no_skill",
        "language",
        "mode_unavailable",
        "out_of_travel_range",
        "contract_scope_or_dates",
        "excluded",
        "expert_capacity",
        "contract_hours",
        "contract_budget",
        "contract_concurrency",
        "outcompeted",
    }
    assert MESSAGES["language"].format(language="tay") == "no expert with the skills speaks tay"
    assert reason_text(Reason.LANGUAGE, "en", "tay") == "no expert with the skills speaks tay"


def _assign(force: bool) -> m.AssignManually:
    return m.AssignManually(
        by="staff", request_id="r1", slot=0, expert_id="e1", contract_id="k1", force=force, reason="x" if force else ""
    )


def test_what_staff_may_force_is_the_rules_flag_not_its_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    req = scenario().requests[0]
    skill = Violation(Rule.SKILL, "r1", 0, "e1", "k1", detail={"skill": "office_it", "level": 4})
    scope = Violation(Rule.CONTRACT_SCOPE, "r1", 0, "e1", "k1", detail={"unit": "u1"})
    _refuse_unless_forced(req, _assign(True), [skill])  # forced past a rule staff may force
    with pytest.raises(Rejected, match="force it with a reason") as soft:
        _refuse_unless_forced(req, _assign(False), [skill])
    assert soft.value.field == "expert_id"
    with pytest.raises(Rejected, match="does not cover u1") as hard:
        _refuse_unless_forced(req, _assign(True), [skill, scope])
    assert hard.value.field == "contract_id" and "force it" not in hard.value.message
    # Reworded so that it reads like a contract's term: still forceable, the flag decides.
    monkeypatch.setitem(RULES, Rule.SKILL, RuleSpec(Scope.ASSIGNMENT, True, "hợp đồng {skill}", "contract {skill}"))
    _refuse_unless_forced(req, _assign(True), [skill])


def test_an_override_written_before_the_codes_still_parses() -> None:
    old = m.ManualOverride.model_validate({"by": "staff", "forced": True, "reason": "r", "violations": ["lacks x 2"]})
    assert old.rules == [] and old.violations == ["lacks x 2"]


def test_the_planners_notes_are_rendered_from_the_catalogue_in_their_former_words() -> None:
    assert not any(RULES[r].validator for r in (Rule.HELD_OVER_CAPACITY, Rule.HELD_OVER_LIMITS, Rule.PENDING_UNFIT))
    held = Violation(Rule.HELD_OVER_CAPACITY, expert="e1", detail={"over": 2.5, "capacity": 20.0})
    assert str(held) == (
        "expert e1: approved work is 2.5 h over the availability of 20 h; it is kept, nothing new is planned for "
        "this expert"
    )
    limits = Violation.on_contract(Rule.HELD_OVER_LIMITS, "c1", "e1", limits="budget_cap_vnd, hours_cap")
    assert str(limits) == (
        "contract c1: approved work is over its limits (budget_cap_vnd, hours_cap); it is kept, nothing new is "
        "planned under this contract"
    )
    unfit = Violation(Rule.PENDING_UNFIT, "r1", 0, "e1", "c1", detail={"proposal": "a-1", "limit": Rule.CONTRACT_HOURS})
    assert str(unfit) == "proposal a-1 (r1/0 -> e1) no longer fits: contract_hours"
    assert render(unfit, "vi") == "đề xuất a-1 (r1/0 -> e1) không còn phù hợp: contract_hours"
