"""The rules a plan keeps, as data: one catalogue of codes, each with whether staff may force it
and its wording in Vietnamese and English.

The matcher's validator returns `Violation(rule, request, slot, expert, contract, ..., detail)`
objects, never sentences; overrides decide what staff may force from `RULES[v.rule].forceable`,
and a sentence (a log line, the CLI, `ManualOverride.violations`, a page) is rendered from the
catalogue by `render`. The reasons a request stays unmatched (`RequestUnmatched.reason_code`) are
a second, smaller catalogue (`Reason`), each naming the rules it is about; their codes are the
values stored events carry and stay as they are.

A template's fields are the violation's own (`request`, `slot`, `expert`, `contract`, `trainee`)
and its `detail`; a detail named `..._min` is written as hours, `..._vnd` as money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from shared.formatting import hm_left, money_left
from shared.messages import BrokenRule

Lang = Literal["vi", "en"]


class Rule(StrEnum):
    """What the validator checks (and what eligibility means): one code per rule."""

    UNKNOWN = "unknown"  # the request, expert or contract is not in the scenario
    NO_SLOT = "no_slot"
    SLOT_TWICE = "slot_twice"
    EXPERT_TWICE = "expert_twice"  # one expert, one slot of a request
    EXCLUDED = "excluded"  # the expert declined or was rejected for this request
    SKILL = "skill"
    LANGUAGE = "language"
    CONTRACT_OWNER = "contract_owner"
    CONTRACT_DATES = "contract_dates"
    CONTRACT_SCOPE = "contract_scope"  # the communes a contract covers
    MODE_REMOTE = "mode_remote"  # remote work where it cannot be remote
    MODE_ONSITE = "mode_onsite"  # on site where the work should be remote
    TRAVEL = "travel"  # on site beyond the expert's travel range (or not on site at all)
    FIGURES = "figures"  # travel, minutes and cost as the scenario gives them
    PIN = "pin"  # approved work kept in the plan
    EXPERT_CAPACITY = "expert_capacity"
    CONTRACT_HOURS = "contract_hours"
    CONTRACT_BUDGET = "contract_budget"
    CONTRACT_CONCURRENCY = "contract_concurrency"
    TRAINEE_MINUTES_ALONE = "trainee_minutes_alone"
    TRAINEE_UNKNOWN = "trainee_unknown"
    TRAINEE_NOT_ASKED = "trainee_not_asked"
    TRAINEE_KIND = "trainee_kind"
    TRAINEE_HOME = "trainee_home"
    TRAINEE_NOTHING_TO_LEARN = "trainee_nothing_to_learn"
    TRAINEE_ALREADY_WORKS = "trainee_already_works"
    TRAINEE_EXCLUDED = "trainee_excluded"
    TRAINEE_MINUTES = "trainee_minutes"
    # The planner's notes on approved and pending work that no longer fits (`PlanOvercommitted.notes`)
    HELD_OVER_CAPACITY = "held_over_capacity"
    HELD_OVER_LIMITS = "held_over_limits"
    PENDING_UNFIT = "pending_unfit"


class Scope(StrEnum):
    """What a violation is about, which also says how its sentence begins."""

    ASSIGNMENT = "assignment"  # "r1/0 -> e1: ..."
    TRAINEE = "trainee"  # "r1/0 trainee e9: ..." ("r1/0: ..." without a trainee)
    PLAN = "plan"  # the sentence names its subject itself
    EXPERT = "expert"  # "expert e1: ..."
    CONTRACT = "contract"  # "contract c1: ..."


@dataclass(frozen=True, slots=True)
class RuleSpec:
    scope: Scope
    forceable: bool  # staff may assign past it, with a reason (`services.matcher.overrides`)
    vi: str
    en: str
    validator: bool = True  # checked by `services.matcher.solver.validate`


_A, _T, _P, _E, _C = Scope.ASSIGNMENT, Scope.TRAINEE, Scope.PLAN, Scope.EXPERT, Scope.CONTRACT

#: The catalogue. A contract's terms and the expert's time are never forced (the ledger would
#: refuse them too); the fit of the person to the work (skills, language, mode, travel, a pair
#: declined before) is staff's call.
RULES: dict[Rule, RuleSpec] = {
    Rule.UNKNOWN: RuleSpec(
        _A, False, "không có yêu cầu, chuyên gia hoặc hợp đồng này", "unknown request, expert or contract"
    ),
    Rule.NO_SLOT: RuleSpec(_A, False, "yêu cầu không có vị trí này", "no such slot"),
    Rule.SLOT_TWICE: RuleSpec(_A, True, "vị trí được giao hai lần", "slot filled twice"),
    Rule.EXPERT_TWICE: RuleSpec(
        _A, True, "chuyên gia nhận hai vị trí của cùng một yêu cầu", "expert takes two slots of one request"
    ),
    Rule.EXCLUDED: RuleSpec(_A, True, "chuyên gia đã từ chối hoặc bị từ chối cho yêu cầu này", "excluded pair"),
    Rule.SKILL: RuleSpec(_A, True, "thiếu kỹ năng {skill} mức {level}", "lacks {skill} {level}"),
    Rule.LANGUAGE: RuleSpec(_A, True, "không nói được tiếng {language}", "does not speak {language}"),
    Rule.CONTRACT_OWNER: RuleSpec(
        _A, False, "hợp đồng {contract} là của {owner}", "contract {contract} belongs to {owner}"
    ),
    Rule.CONTRACT_DATES: RuleSpec(
        _A,
        False,
        "hợp đồng {contract} không còn hiệu lực trước hạn chót",
        "contract {contract} not active before the deadline",
    ),
    Rule.CONTRACT_SCOPE: RuleSpec(
        _A, False, "hợp đồng {contract} không áp dụng cho {unit}", "contract {contract} does not cover {unit}"
    ),
    Rule.MODE_REMOTE: RuleSpec(_A, True, "không thể làm từ xa", "cannot be remote"),
    Rule.MODE_ONSITE: RuleSpec(_A, True, "cần làm từ xa", "should be remote"),
    Rule.TRAVEL: RuleSpec(_A, True, "không thể đến tận nơi", "cannot travel there"),
    Rule.FIGURES: RuleSpec(
        _A,
        False,
        "số liệu {travel}/{minutes}/{cost} phải là {want_travel}/{want_minutes}/{want_cost}",
        "figures {travel}/{minutes}/{cost} should be {want_travel}/{want_minutes}/{want_cost}",
    ),
    Rule.PIN: RuleSpec(
        _P, False, "phân công {request}/{slot} -> {expert} không được giữ", "pin {request}/{slot} -> {expert} not kept"
    ),
    Rule.EXPERT_CAPACITY: RuleSpec(
        _E,
        False,
        "chuyên gia {expert}: thời gian: còn {left_min} trong kỳ, việc này cần {needs_min}",
        "expert {expert}: time: {left_min} left in the horizon, this assignment needs {needs_min}",
    ),
    Rule.CONTRACT_HOURS: RuleSpec(
        _C,
        False,
        "hợp đồng {contract}: số giờ: còn {left_min}, phân công này cần {needs_min}",
        "contract {contract}: hours: {left_min} left, this assignment needs {needs_min}",
    ),
    Rule.CONTRACT_BUDGET: RuleSpec(
        _C,
        False,
        "hợp đồng {contract}: kinh phí: còn {left_vnd}, phân công này cần {needs_vnd}",
        "contract {contract}: budget: {left_vnd} left, this assignment needs {needs_vnd}",
    ),
    Rule.CONTRACT_CONCURRENCY: RuleSpec(
        _C,
        False,
        "hợp đồng {contract}: tối đa {max} việc cùng lúc, đang có {running} việc",
        "contract {contract}: at most {max} task(s) at once, {running} already running",
    ),
    Rule.TRAINEE_MINUTES_ALONE: RuleSpec(
        _T, False, "có phút học việc mà không có người học việc", "trainee minutes without a trainee"
    ),
    Rule.TRAINEE_UNKNOWN: RuleSpec(
        _T, False, "không có yêu cầu, vị trí hoặc chuyên gia này", "unknown request, slot or expert"
    ),
    Rule.TRAINEE_NOT_ASKED: RuleSpec(_T, False, "yêu cầu không cần người học việc", "the request asks for no trainee"),
    Rule.TRAINEE_KIND: RuleSpec(
        _T,
        False,
        "là {kind}, người học việc phải là thành viên cộng đồng",
        "is {kind}, a trainee must be a community member",
    ),
    Rule.TRAINEE_HOME: RuleSpec(
        _T,
        False,
        "sống ở {home}, không phải xã của yêu cầu {unit}",
        "lives in {home}, not in the request's commune {unit}",
    ),
    Rule.TRAINEE_NOTHING_TO_LEARN: RuleSpec(
        _T, False, "đã có kỹ năng của vị trí, không còn gì để học", "already has the slot's skills, nothing to learn"
    ),
    Rule.TRAINEE_ALREADY_WORKS: RuleSpec(_T, False, "đã làm việc cho yêu cầu này", "already works on this request"),
    Rule.TRAINEE_EXCLUDED: RuleSpec(_T, False, "đã từ chối hoặc bị từ chối cho yêu cầu này", "excluded pair"),
    Rule.TRAINEE_MINUTES: RuleSpec(
        _T, False, "{minutes} phút, phải là {want} phút", "{minutes} minutes, should be {want}"
    ),
    Rule.HELD_OVER_CAPACITY: RuleSpec(
        _E,
        False,
        "chuyên gia {expert}: công việc đã duyệt vượt {over:g} giờ so với thời gian có thể nhận {capacity:g} giờ; "
        "vẫn giữ, không giao thêm cho chuyên gia này",
        "expert {expert}: approved work is {over:g} h over the availability of {capacity:g} h; it is kept, "
        "nothing new is planned for this expert",
        validator=False,
    ),
    Rule.HELD_OVER_LIMITS: RuleSpec(
        _C,
        False,
        "hợp đồng {contract}: công việc đã duyệt vượt giới hạn ({limits}); vẫn giữ, không giao thêm theo hợp đồng này",
        "contract {contract}: approved work is over its limits ({limits}); it is kept, nothing new is planned "
        "under this contract",
        validator=False,
    ),
    Rule.PENDING_UNFIT: RuleSpec(
        _P,
        False,
        "đề xuất {proposal} ({request}/{slot} -> {expert}) không còn phù hợp: {limit}",
        "proposal {proposal} ({request}/{slot} -> {expert}) no longer fits: {limit}",
        validator=False,
    ),
}

#: The limits approved and planned work share: what is left depends on the rest of the plan.
LIMITS = (Rule.EXPERT_CAPACITY, Rule.CONTRACT_HOURS, Rule.CONTRACT_BUDGET, Rule.CONTRACT_CONCURRENCY)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: its code, what it concerns, and the figures its wording needs."""

    rule: Rule
    request: str | None = None
    slot: int | None = None
    expert: str | None = None
    contract: str | None = None
    trainee: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def on_contract(cls, rule: Rule, contract: str, expert: str, **detail: object) -> Violation:
        """A broken limit of a contract (of `expert`)."""
        return cls(rule, expert=expert, contract=contract, detail=detail)

    @property
    def spec(self) -> RuleSpec:
        return RULES[self.rule]

    @property
    def forceable(self) -> bool:
        return RULES[self.rule].forceable

    def __str__(self) -> str:
        return render(self)


def broken(v: Violation) -> BrokenRule:
    """The violation as data on the wire (a refusal's `FieldError.broken`)."""
    return BrokenRule(
        rule=str(v.rule),
        request=v.request,
        slot=v.slot,
        expert=v.expert,
        contract=v.contract,
        trainee=v.trainee,
        detail=dict(v.detail),
    )


def violation(b: BrokenRule) -> Violation | None:
    """A broken rule read back (None: a code this catalogue does not know, from a newer service)."""
    if b.rule not in Rule._value2member_map_:
        return None
    return Violation(Rule(b.rule), b.request, b.slot, b.expert, b.contract, b.trainee, dict(b.detail))


def render(v: Violation, lang: Lang = "en", *, where: bool = True) -> str:
    """The violation as a sentence in `lang`; `where=False` leaves out the assignment it is about
    (a page or a refusal that already names it)."""
    spec = RULES[v.rule]
    text = (spec.en if lang == "en" else spec.vi).format_map(_fields(v, lang))
    return f"{_where(v, spec.scope, lang)}: {text}" if where and spec.scope in (_A, _T) else text


def _where(v: Violation, scope: Scope, lang: Lang) -> str:
    if scope is _A:
        return f"{v.request}/{v.slot} -> {v.expert}"
    if v.trainee is None:
        return f"{v.request}/{v.slot}"
    return f"{v.request}/{v.slot} {'trainee' if lang == 'en' else 'học việc'} {v.trainee}"


def _fields(v: Violation, lang: Lang) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request": v.request,
        "slot": v.slot,
        "expert": v.expert,
        "contract": v.contract,
        "trainee": v.trainee,
    }
    for key, value in v.detail.items():
        if key.endswith("_min"):
            out[key] = hm(value, lang)
        elif key.endswith("_vnd"):
            out[key] = dong(value)
        else:
            out[key] = value
    return out


def hm(minutes: int, lang: Lang = "en") -> str:
    """What is left of a cap or a person's time, as people read it (`shared.formatting.hm_left`):
    7 h 40, 2 h, 0 h 30 (7 giờ 40 in Vietnamese)."""
    text = hm_left(minutes)
    return text if lang == "en" else text.replace(" h", " giờ")


#: What is left of a budget (`shared.formatting.money_left`): 1.500.000 ₫, never below zero.
dong = money_left


class Reason(StrEnum):
    """Why a request stays unmatched: the values `RequestUnmatched.reason_code` carries."""

    NO_SKILL = "no_skill"
    LANGUAGE = "language"
    MODE_UNAVAILABLE = "mode_unavailable"
    OUT_OF_TRAVEL_RANGE = "out_of_travel_range"
    CONTRACT_SCOPE_OR_DATES = "contract_scope_or_dates"
    EXCLUDED = "excluded"
    EXPERT_CAPACITY = "expert_capacity"
    CONTRACT_HOURS = "contract_hours"
    CONTRACT_BUDGET = "contract_budget"
    CONTRACT_CONCURRENCY = "contract_concurrency"
    OUTCOMPETED = "outcompeted"


@dataclass(frozen=True, slots=True)
class ReasonSpec:
    rules: tuple[Rule, ...]  # the rules every candidate broke (none: the rules held, others came first)
    vi: str
    en: str


#: `{language}`: the language the request asks for ("the language asked for" when not named).
REASONS: dict[Reason, ReasonSpec] = {
    Reason.NO_SKILL: ReasonSpec(
        (Rule.SKILL,),
        "không chuyên gia nào có kỹ năng ở mức yêu cầu",
        "no expert has the required skills at the required level",
    ),
    Reason.LANGUAGE: ReasonSpec(
        (Rule.LANGUAGE,),
        "không chuyên gia nào có kỹ năng này nói được {language}",
        "no expert with the skills speaks {language}",
    ),
    Reason.MODE_UNAVAILABLE: ReasonSpec(
        (Rule.MODE_REMOTE, Rule.MODE_ONSITE),
        "không chuyên gia nào có kỹ năng này làm được theo hình thức yêu cầu",
        "no expert with the skills can work in the requested mode",
    ),
    Reason.OUT_OF_TRAVEL_RANGE: ReasonSpec(
        (Rule.TRAVEL,),
        "các chuyên gia có kỹ năng này ở quá xa và không thể hỗ trợ từ xa cho yêu cầu này",
        "experts with the skills are out of travel range and cannot work remotely here",
    ),
    Reason.CONTRACT_SCOPE_OR_DATES: ReasonSpec(
        (Rule.CONTRACT_SCOPE, Rule.CONTRACT_DATES),
        "chưa có hợp đồng còn hiệu lực của chuyên gia phù hợp cho đơn vị này trước hạn chót",
        "no active contract of a suitable expert covers this unit before the deadline",
    ),
    Reason.EXCLUDED: ReasonSpec(
        (Rule.EXCLUDED,),
        "mọi chuyên gia phù hợp đều đã từ chối hoặc bị từ chối cho yêu cầu này",
        "every suitable expert has declined or been rejected for this request",
    ),
    Reason.EXPERT_CAPACITY: ReasonSpec(
        (Rule.EXPERT_CAPACITY,), "các chuyên gia phù hợp đã kín lịch", "all eligible experts are at capacity"
    ),
    Reason.CONTRACT_HOURS: ReasonSpec(
        (Rule.CONTRACT_HOURS,), "các hợp đồng phù hợp đã hết giờ", "the hours of every eligible contract are used up"
    ),
    Reason.CONTRACT_BUDGET: ReasonSpec(
        (Rule.CONTRACT_BUDGET,),
        "các hợp đồng phù hợp đã hết kinh phí",
        "the budget of every eligible contract is used up",
    ),
    Reason.CONTRACT_CONCURRENCY: ReasonSpec(
        (Rule.CONTRACT_CONCURRENCY,),
        "các hợp đồng phù hợp đã đủ số việc cùng lúc",
        "every eligible contract has its maximum of concurrent assignments",
    ),
    Reason.OUTCOMPETED: ReasonSpec(
        (), "các yêu cầu khẩn hơn đã nhận các chuyên gia phù hợp", "more urgent requests took the eligible experts"
    ),
}

#: The reasons that are a shared limit running out, in the order they are checked.
BLOCKERS = (Reason.EXPERT_CAPACITY, Reason.CONTRACT_HOURS, Reason.CONTRACT_BUDGET, Reason.CONTRACT_CONCURRENCY)

_UNNAMED_LANGUAGE = {"vi": "ngôn ngữ yêu cầu", "en": "the language asked for"}


def reason_text(reason: Reason | str, lang: Lang = "en", language: str | None = None) -> str:
    """A reason's sentence; the language asked for is named when given."""
    spec = REASONS[Reason(reason)]
    return (spec.en if lang == "en" else spec.vi).format(language=language or _UNNAMED_LANGUAGE[lang])
