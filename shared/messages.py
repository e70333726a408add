"""The one catalogue of messages: commands (imperative), events (past tense), replies.

Every message is a frozen pydantic model carrying `event_id`, `occurred_at` (tz-aware) and
`correlation_id`; `version` lets a consumer tell a newer shape. Add fields, never repurpose one;
consumers ignore fields they do not know. Subjects live in `shared.subjects`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints, field_validator, model_validator

from shared import limits as L
from shared.clock import utcnow
from shared.scenario import Candidate, Contract, Expert, Id, Request, Skills, TravelTime, Unit
from shared.statuses import ContractStatus, DeliveryStatus

Party = Annotated[
    str,
    Field(
        pattern=r"^(expert|unit|staff):[A-Za-z0-9_.:-]+$",
        max_length=80,
        description="who a notification is for: expert:<id>, unit:<id> or staff:<name>",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=120)]
Text = Annotated[str, Field(max_length=L.TEXT)]
# In events (written by a service, read by others): bounded like the commands they come from.
Ref = Annotated[str, Field(max_length=L.ID, description="an id")]
Who = Annotated[str, Field(max_length=L.NAME, description="who acted, as the trail says it")]
Word = Annotated[str, Field(max_length=L.SHORT)]
Title = Annotated[str, Field(max_length=L.TITLE)]


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> dt.datetime:
    return utcnow()


class Proof(BaseModel):
    """Who sent a command, provably (`shared.security.credentials`): a person's issuer-signed
    credential and their key's signature over the command, or a service's own signature."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    credential: str | None = Field(default=None, max_length=4096)
    service: str | None = Field(default=None, pattern=r"^[a-z]{1,32}$", description="a system command's sender")
    signature: str = Field(min_length=1, max_length=200)


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    version: int = 1
    event_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    occurred_at: dt.datetime = Field(default_factory=now)
    correlation_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    proof: Proof | None = Field(default=None, description="a command's signature; the owner verifies it")

    def caused(self, cls: type[M], **fields: Any) -> M:
        """A message caused by this one: same correlation id, new event id."""
        return cls(correlation_id=self.correlation_id, **fields)


M = TypeVar("M", bound=Message)


# ---------------------------------------------------------------- replies to commands/queries
class BrokenRule(BaseModel):
    """A rule of `shared.rules` a command would break, as data: its code, what it concerns and
    the figures its wording needs (`shared.rules.Violation` on the wire). A reader words it from
    the catalogue in its own language, never from the service's sentence."""

    model_config = ConfigDict(frozen=True)
    rule: Annotated[str, Field(max_length=L.SHORT)]
    request: Ref | None = None
    slot: int | None = None
    expert: Ref | None = None
    contract: Ref | None = None
    trainee: Ref | None = None
    detail: dict[
        Annotated[str, Field(max_length=L.SHORT)], Annotated[str, Field(max_length=L.NAME)] | int | float | None
    ] = Field(default_factory=dict, max_length=20)


class Refusal(StrEnum):
    """What kind of refusal a `FieldError` is, where a reader acts on it (a page words it, or
    shows it in another place), so that nothing depends on the wording of `message`."""

    UNKNOWN_UNIT = "unknown_unit"  # the unit named is not registered
    NOT_YOURS = "not_yours"  # the sender acts for another party than the one it names
    BROKEN_RULES = "broken_rules"  # a manual assignment breaks rules (`broken` lists them)


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)
    field: str
    message: str
    code: Annotated[str, Field(max_length=L.SHORT)] | None = Field(
        default=None, description="a `Refusal` code, when a reader may act on the kind of refusal"
    )
    broken: list[BrokenRule] = Field(
        default_factory=list, max_length=50, description="the rules broken, when the refusal is about rules"
    )


V = TypeVar("V")


class Reply(BaseModel, Generic[V]):
    """The answer to every command and query: ok with data, or an error that names the field.

    `data` is the reply's typed read model, declared with the subject (`shared.endpoints`):
    `Reply[RequestView]`. A reply stored by a service (a command's answer, replayed on a repeated
    message id) is read back unparametrised, its data as it was written; the caller reads it as
    the endpoint's reply model."""

    model_config = ConfigDict(frozen=True)
    ok: bool
    error: str | None = None
    field_errors: list[FieldError] = Field(default_factory=list)
    data: V | None = None

    @classmethod
    def of(cls, data: BaseModel) -> Reply[Any]:
        """Success, carrying a reply model."""
        return Reply(ok=True, data=data)

    @classmethod
    def failure(cls, error: str, *field_errors: FieldError) -> Reply[Any]:
        return Reply(ok=False, error=error, field_errors=list(field_errors))


class Done(BaseModel):
    """The reply of a command that answers nothing but that it was done."""

    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- matcher: commands
class SubmitRequest(Message):
    request: Request
    by: Name = "commune"


class SubmitRequests(Message):
    """Many requests in one command (a load, a spreadsheet): signed once, one transaction, and each
    request checked and answered on its own (`results`, in the order sent): one refused request
    refuses only itself. A request already there with the same content is answered as it stands."""

    requests: list[Request] = Field(min_length=1, max_length=L.SUBMIT_BATCH)
    by: Name = "import"


class CancelRequest(Message):
    request_id: Id
    by: Name
    reason: Text = ""


class GetRequests(Message):
    """Requests with their status and their proposals (`matcher.status.get`), oldest first. Every
    filter given narrows the list; `limit` keeps the newest that many (the reply says
    `truncated`). The counts are always whole. The portal asks for what its page shows."""

    unit_id: Id | None = Field(default=None, description="one unit's")
    request_ids: list[Id] | None = Field(default=None, max_length=1000)
    statuses: list[Annotated[str, Field(max_length=20)]] | None = Field(default=None, max_length=20)
    limit: int | None = Field(default=None, ge=1, le=10_000)
    oldest_first: bool = Field(default=False, description="with `limit`: the oldest that many instead")


class GetPlanInput(Message):
    """The scenario a plan (or a manual assignment's check) was made from, by its digest. A
    province's scenario is larger than one NATS message: the reply carries the text from `offset`,
    at most `limits.PLAN_INPUT_CHUNK` characters, with `next_offset` while there is more."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    offset: int = Field(default=0, ge=0)


class GetCandidates(Message):
    """The best few experts for one open request, each with what taking it would displace."""

    request_id: Id
    limit: int = Field(default=5, ge=1, le=20)


class GetGaps(Message):
    """The shortage, measured (`matcher.gaps.get`, `contracts.gaps.get`): the requests submitted
    from `from_date` to `to_date` (the service's local days, both included), and every request
    still open when the period reaches today. Left out: the last `DEFAULT_GAP_DAYS` days up to
    today. A period is at most `limits.GAP_DAYS` days long."""

    from_date: dt.date | None = Field(default=None, description="first day; default: to_date - 90 days")
    to_date: dt.date | None = Field(default=None, description="last day; default: today")
    with_values: bool = Field(default=True, description="matcher: the value of one more hour (an LP solve)")

    @model_validator(mode="after")
    def _period(self) -> GetGaps:
        check_period(self.from_date, self.to_date)
        return self

    def period(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The days asked for, the defaults filled in (ValueError when it is too long)."""
        end = self.to_date or today
        start = self.from_date or end - dt.timedelta(days=DEFAULT_GAP_DAYS)
        check_period(start, end)
        return start, end

    def window(self, today: dt.date, zone: dt.tzinfo) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
        """`period`, and the instants it runs between: from the first day's midnight in `zone` to
        the midnight after the last (ValueError when it is too long)."""
        start, end = self.period(today)
        return (
            start,
            end,
            dt.datetime.combine(start, dt.time(), zone),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone),
        )


DEFAULT_GAP_DAYS = 90


def check_period(start: dt.date | None, end: dt.date | None) -> None:
    """A period ends on or after its first day and is at most `limits.GAP_DAYS` days long."""
    if start is not None and end is not None:
        if end < start:
            raise ValueError(f"to_date {end} is before from_date {start}")
        if (end - start).days + 1 > L.GAP_DAYS:
            raise ValueError(f"the period is {(end - start).days + 1} days long; at most {L.GAP_DAYS} days")


class GapRow(BaseModel):
    """Demand and what stayed uncovered, for one key of a breakdown (a skill and level, a unit,
    a province, a month): requests, hours and priority weight. demand = covered + uncovered."""

    model_config = ConfigDict(frozen=True)
    key: Annotated[str, Field(max_length=L.SHORT)]
    label: Annotated[str, Field(max_length=L.NAME)] = ""
    requests: int = 0
    hours: float = 0
    weight: int = 0
    covered_requests: int = 0
    covered_hours: float = 0
    covered_weight: int = 0
    uncovered_requests: int = 0
    uncovered_hours: float = 0
    uncovered_weight: int = 0


class CoverRow(BaseModel):
    """How demand was covered: assignments and their hours by mode, expert kind or contract kind."""

    model_config = ConfigDict(frozen=True)
    by: Literal["mode", "expert_kind", "contract_kind"]
    key: Annotated[str, Field(max_length=L.SHORT)]
    assignments: int = 0
    hours: float = 0


class UseRow(BaseModel):
    """One expert's or contract's use: hours taken of its capacity or cap, and what one more hour
    of it would cover (the LP's marginal value, `services.matcher.solver.value`)."""

    model_config = ConfigDict(frozen=True)
    id: Ref
    name: Annotated[str, Field(max_length=L.NAME)] = ""
    kind: Word = ""
    assignments: int = 0
    hours: float = Field(default=0, description="hours of its assignments in the report")
    used_hours: float | None = Field(default=None, description="hours committed or used in all (the ledger's)")
    cap_hours: float | None = None
    used_pct: float | None = None
    budget_used_vnd: int | None = None
    budget_cap_vnd: int | None = None
    hour_value: float | None = Field(default=None, description="covered weight one more hour of it would bring")


class HourValue(BaseModel):
    """A bottleneck: what one more expert-hour with this skill and level would bring in this unit
    (on site there, or remote), as covered priority weight per hour, for up to `hours` hours."""

    model_config = ConfigDict(frozen=True)
    skill: Word
    level: int
    skill_label: Annotated[str, Field(max_length=L.SHORT)] = ""
    unit: Ref
    unit_name: Annotated[str, Field(max_length=L.NAME)] = ""
    province: Annotated[str, Field(max_length=L.SHORT)] = ""
    value_per_hour: float
    hours: float = Field(description="hours of work to be had at a positive value")
    requests: int
    remote_ok: bool = Field(default=False, description="the best of them can be done remotely, by an expert anywhere")


class LearntRow(BaseModel):
    """What was learnt by community members as trainees beside the experts (`solver.trainee`), in
    one commune and skill (a slot's main skill and the level asked): their hours, the assignments
    they joined, and how many people learnt."""

    model_config = ConfigDict(frozen=True)
    skill: Word
    level: int = Field(default=0, ge=0, le=5)
    skill_label: Annotated[str, Field(max_length=L.SHORT)] = ""
    unit: Ref
    unit_name: Annotated[str, Field(max_length=L.NAME)] = ""
    province: Annotated[str, Field(max_length=L.SHORT)] = ""
    trainees: int = 0
    assignments: int = 0
    hours: float = 0


class ApprovalTimes(BaseModel):
    """From a request's submission to its first approval (the ledger's reservation), in hours."""

    model_config = ConfigDict(frozen=True)
    approved: int = 0
    mean_hours: float | None = None
    median_hours: float | None = None
    p90_hours: float | None = None
    max_hours: float | None = None


class GapsReport(BaseModel):
    """The reply to `GetGaps` (the matcher's part; `contracts.gaps.get` answers `approval` and the
    contracts' `contracts` from its ledger). Lists are the most uncovered first, at most
    `limits.GAP_ROWS` rows each (`truncated`)."""

    model_config = ConfigDict(frozen=True)
    source: Literal["live", "scenario"] = "live"
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    requests: int = Field(default=0, description="in the period, cancelled ones included")
    cancelled: int = 0
    total: GapRow = Field(default_factory=lambda: GapRow(key="all"))
    by_skill: list[GapRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    by_unit: list[GapRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    by_province: list[GapRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    by_month: list[GapRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    covered_by: list[CoverRow] = Field(default_factory=list, max_length=50)
    learnt: list[LearntRow] = Field(
        default_factory=list, max_length=L.GAP_ROWS, description="trainee hours by skill and commune, the most first"
    )
    approval: ApprovalTimes | None = None
    experts: list[UseRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    contracts: list[UseRow] = Field(default_factory=list, max_length=L.GAP_ROWS)
    bottlenecks: list[HourValue] = Field(default_factory=list, max_length=L.GAP_ROWS)
    values: Annotated[str, Field(max_length=L.SHORT)] = Field(
        default="", description="how the values were found (lp_duals), or why there are none"
    )
    truncated: bool = False


class GetHiringPlan(Message):
    """Which contracts to sign for a budget (`matcher.hiring_plan.get`), on what is open now (the
    scenario a re-plan would solve): the set of candidates covering the most priority weight,
    decided with the matching and checked by solving the merged scenario again; compared with the
    simple rule. Staff and admins only (signed, like a command). `candidates`: the menu, each as
    in `expertshare plan-hiring --candidates` (docs/matching.md); left out: the default menu."""

    budget_vnd: int = Field(ge=0, le=L.HIRING_BUDGET_VND, description="what the new contracts may cost in all")
    candidates: list[Candidate] | None = Field(default=None, max_length=L.HIRING_CANDIDATES)
    menu_size: int = Field(default=100, ge=1, le=L.HIRING_CANDIDATES, description="candidates of the default menu")


class HireCovers(BaseModel):
    model_config = ConfigDict(frozen=True)
    requests: list[Ref] = Field(default_factory=list, max_length=L.GAP_ROWS)
    weight: int = 0


class HireView(BaseModel):
    """One chosen contract: the candidate, its new expert and contract ids, where it is based
    (a unit id, or `remote only`), its skills and cost, and what it covers in the checked plan."""

    model_config = ConfigDict(frozen=True)
    candidate: Ref
    name: Annotated[str, Field(max_length=L.NAME)] = ""
    expert: Ref
    contract: Ref
    where: Ref
    skills: Skills = Field(default_factory=dict)
    cost_vnd: int
    covers: HireCovers


class RuleView(BaseModel):
    """The simple rule on the same budget (most uncovered skill, where most of it is), judged by
    the engine like the plan."""

    model_config = ConfigDict(frozen=True)
    rule: Annotated[str, Field(max_length=L.SHORT)]
    hires: list[Ref] = Field(default_factory=list, max_length=L.HIRING_CANDIDATES)
    cost_vnd: int
    covered_weight_after: int


class HiringPlanView(BaseModel):
    """The reply to `GetHiringPlan`: before and after are the engine's solves (after: of the
    scenario with the hires merged), `verified` when the joint model found the same."""

    model_config = ConfigDict(frozen=True)
    budget_vnd: int
    menu: Literal["file", "default"] = "default"
    candidates: int = 0
    requests: int = Field(default=0, description="open requests planned for")
    hires: list[HireView] = Field(default_factory=list, max_length=L.HIRING_CANDIDATES)
    cost_vnd: int = 0
    covered_weight_before: int = 0
    covered_weight_after: int = 0
    joint_covered_weight: int = 0
    verified: bool = True
    gain: int = 0
    simple_rule: RuleView | None = None
    experts: list[Expert] = Field(
        default_factory=list,
        max_length=L.HIRING_CANDIDATES,
        description="the hires as scenario experts, ready to merge",
    )
    contracts: list[Contract] = Field(default_factory=list, max_length=L.HIRING_CANDIDATES)
    seconds: float = 0


# ---------------------------------------------------------------- matcher: events
class RequestSubmitted(Message):
    request: Request
    by: Who


class RequestsSubmitted(Message):
    """The requests one bulk submission took (`matcher.requests.submit`), in one event instead of
    one each: every request as its own `RequestSubmitted` (with its own event id), so a consumer
    treats each as it treats the single event, all in one transaction."""

    submitted: list[RequestSubmitted] = Field(max_length=L.SUBMIT_BATCH)


class RequestCancelled(Message):
    request_id: Ref
    unit_id: Ref
    by: Who
    reason: Text = ""


class PlanOvercommitted(Message):
    """A plan found approved work over an expert's availability or a contract's limits (kept, with
    nothing new planned there) or pending proposals that no longer fit (let go): staff should look."""

    notes: list[Text] = Field(min_length=1, max_length=200, description="every note, in English")
    plan_input_sha256: str = Field(default="", max_length=64)
    broken: list[BrokenRule] = Field(
        default_factory=list,
        max_length=200,
        description="the notes about rules, as data: a reader words them from `shared.rules` in its language",
    )
    remarks: list[Text] = Field(
        default_factory=list, max_length=20, description="the notes about no rule (the engine's own words)"
    )


class RequestUnmatched(Message):
    request_id: Ref
    unit_id: Ref
    title: Title = ""
    reason_code: Word
    reason: Text


class AssignmentProposed(Message):
    assignment_id: Ref
    request: Request
    slot: int = Field(default=0, ge=0, lt=L.SLOTS)
    expert_id: Ref
    expert_name: Annotated[str, Field(max_length=L.NAME)]
    contract_id: Ref
    mode: Literal["onsite", "remote"]
    travel_minutes: int
    minutes: int
    cost_vnd: int
    explanation: dict[Word, Any] = Field(
        default_factory=dict,
        max_length=L.EXPLANATION_KEYS,
        description=f"the solver's reasons, at most {L.EXPLANATION_BYTES} bytes of JSON",
    )
    plan_input_sha256: Annotated[str, Field(max_length=64)] = ""
    manual: ManualOverride | None = Field(default=None, description="set for staff's own assignments")
    trainee_id: Ref | None = Field(
        default=None,
        description=(
            "a community member of the request's commune learning beside the expert (the request asked for one)"
        ),
    )
    trainee_name: Annotated[str, Field(max_length=L.NAME)] = ""
    trainee_minutes: int = Field(
        default=0, ge=0, description="the trainee's time, against their capacity; no contract pays for it"
    )

    @field_validator("explanation")
    @classmethod
    def _explanation_size(cls, v: dict[str, Any]) -> dict[str, Any]:
        if L.json_size(v) > L.EXPLANATION_BYTES:
            raise ValueError(f"more than {L.EXPLANATION_BYTES} bytes of JSON")
        return v


class AssignmentWithdrawn(Message):
    assignment_id: Ref
    request_id: Ref
    expert_id: Ref
    reason: Text


class AssignManually(Message):
    """Staff assign an expert by hand (an override): checked by the solver's rules; `force`
    lets it through a broken rule, never a contract cap, and needs a reason."""

    request_id: Id
    slot: int = Field(default=0, ge=0)
    expert_id: Id
    contract_id: Id
    by: Name
    force: bool = False
    reason: Text = ""


class SignedCommand(BaseModel):
    """A person's command as they signed it, carried on for another service to check."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    credential: str = Field(max_length=4096)
    signature: str = Field(max_length=200)
    document: str = Field(max_length=16_000, description="subject, newline, the command's canonical JSON")


class ManualOverride(BaseModel):
    model_config = ConfigDict(frozen=True)
    by: Who
    forced: bool = False
    reason: Text = ""
    violations: list[Text] = Field(default_factory=list, max_length=50, description="rules a forced override breaks")
    rules: list[Word] = Field(
        default_factory=list,
        max_length=50,
        description="their codes (shared.rules.Rule), in the same order; empty in events written before them",
    )
    command: SignedCommand | None = Field(
        default=None, description="staff's signed assign command: contracts approves at once only on it"
    )


# ---------------------------------------------------------------- matcher: replies
#: The most rows of a list a reply may be built with before `shared.bus.fit_reply` cuts it to
#: one NATS message (an unlimited status query of a national system): bounded, never reached.
REPLY_ROWS = 1_000_000


def _absent(value: object) -> bool:
    return value is None


class RequestState(BaseModel):
    """The reply to `SubmitRequest` and `CancelRequest`: the request and its status now."""

    model_config = ConfigDict(frozen=True)
    request_id: Ref
    status: Word


class SubmitResult(BaseModel):
    """One request of a bulk submission, in the order sent: taken (`ok`, its `status`) or refused
    (`error`, and the `field` of the command it names). Absent fields are left out of the JSON."""

    model_config = ConfigDict(frozen=True)
    id: Ref
    ok: bool
    status: Word | None = Field(default=None, exclude_if=_absent, description="a taken request's status")
    error: Text | None = Field(default=None, exclude_if=_absent, description="why it was refused")
    field: Annotated[str, Field(max_length=L.SHORT)] | None = Field(
        default=None, exclude_if=_absent, description="the refused field, e.g. requests[3].deadline"
    )


class SubmitResults(BaseModel):
    """The reply to `SubmitRequests`: how many were taken and refused, and each one's answer."""

    model_config = ConfigDict(frozen=True)
    taken: int
    refused: int
    results: list[SubmitResult] = Field(default_factory=list, max_length=L.SUBMIT_BATCH)


class ManualAssignment(BaseModel):
    """The reply to `AssignManually`: the proposal made (contracts approves it at once) and the
    rules a forced assignment broke."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    request_id: Ref
    slot: int
    expert_id: Ref
    contract_id: Ref
    mode: Word
    minutes: int
    cost_vnd: int
    forced: bool = False
    violations: list[Text] = Field(default_factory=list, max_length=50, description="rules it was forced past")


class RequestView(BaseModel):
    """A request as the matcher holds it, with its status (and, unmatched, why)."""

    model_config = ConfigDict(frozen=True)
    id: Ref
    unit: Ref
    title: Title
    priority: int
    hours: float
    mode: Word
    deadline: dt.date
    status: Word
    reason_code: Word = ""
    reason: Text = ""


class ProposalView(BaseModel):
    """One of the matcher's proposals (an assignment as the matcher sees it), with its status:
    pending, approved, accepted, rejected, declined, withdrawn, cancelled, completed."""

    model_config = ConfigDict(frozen=True)
    id: Ref
    request_id: Ref
    slot: int = 0
    expert_id: Ref
    contract_id: Ref
    mode: Word
    travel_minutes: int = 0
    minutes: int
    cost_vnd: int
    trainee_id: Ref | None = None
    trainee_minutes: int = 0
    status: Word
    plan_id: int | None = Field(default=None, description="the plan that made it")
    created_at: dt.datetime


class MatcherCounts(BaseModel):
    """What the matcher holds in all (its copies of the reference data, and the requests)."""

    model_config = ConfigDict(frozen=True)
    units: int = 0
    experts: int = 0
    contracts: int = 0
    requests: int = 0


class MatcherStatus(BaseModel):
    """The reply to `GetRequests` (`matcher.status.get`): the requests asked for, oldest first,
    their proposals (every proposal when nothing narrows the question), and the whole counts."""

    model_config = ConfigDict(frozen=True)
    requests: list[RequestView] = Field(default_factory=list, max_length=REPLY_ROWS)
    proposals: list[ProposalView] = Field(default_factory=list, max_length=REPLY_ROWS)
    counts: MatcherCounts = Field(default_factory=MatcherCounts)
    truncated: bool = Field(default=False, description="`limit` or the message's size cut the lists")


class PlanInputView(BaseModel):
    """The reply to `GetPlanInput`: a piece of the scenario text from `offset`; `next_offset`
    says where the next piece starts (None: this is the last)."""

    model_config = ConfigDict(frozen=True)
    sha256: Annotated[str, Field(max_length=64)]
    scenario: Annotated[str, Field(max_length=L.PLAN_INPUT_CHUNK)] = ""
    offset: int = 0
    total_chars: int = 0
    next_offset: int | None = None
    status: Word = Field(default="", description="the plan's solve status, or manual")
    created_at: Annotated[str, Field(max_length=40, description="when the plan was made (ISO 8601)")] = ""
    overcommitted: list[Text] = Field(default_factory=list, max_length=L.NOTES)
    truncated: bool = False


class CandidateView(BaseModel):
    """One expert who could take a request, under which contract, and what it would displace."""

    model_config = ConfigDict(frozen=True)
    expert: Ref
    expert_name: Annotated[str, Field(max_length=L.NAME)] = ""
    contract: Ref
    slot: int = 0
    mode: Word
    travel_minutes: int = 0
    hours: float
    cost_vnd: int
    score: int = Field(description="lower is better: the model's secondary terms for this option")
    fits_now: bool
    displaces: list[Ref] = Field(
        default_factory=list, max_length=L.IDS, description="requests that would lose their expert, least urgent first"
    )


class CandidatesView(BaseModel):
    """The reply to `GetCandidates`: the best few experts for the request, the best first."""

    model_config = ConfigDict(frozen=True)
    request_id: Ref
    candidates: list[CandidateView] = Field(default_factory=list, max_length=20)


# ---------------------------------------------------------------- contracts: commands
class RegisterReference(Message):
    """Units, travel times, experts and contracts to add or replace (a load, in chunks)."""

    by: Name = "import"
    units: list[Unit] = Field(default_factory=list, max_length=5000)
    travel_minutes: list[TravelTime] = Field(default_factory=list, max_length=50000)
    experts: list[Expert] = Field(default_factory=list, max_length=5000)
    contracts: list[Contract] = Field(default_factory=list, max_length=5000)
    contract_status: dict[Annotated[str, Field(max_length=L.ID)], ContractStatus] = Field(
        default_factory=dict,
        max_length=5000,
        description="a new contract starts active unless named here as draft; for an existing "
        "contract the status, when given, must be the one it has",
    )


class ApproveAssignment(Message):
    assignment_id: Id
    by: Name
    comment: Text = ""


class RejectAssignment(Message):
    assignment_id: Id
    by: Name
    reason: Text = ""


class AcceptAssignment(Message):
    assignment_id: Id
    expert_id: Id


class DeclineAssignment(Message):
    assignment_id: Id
    expert_id: Id
    reason: Text = ""
    unanswered_only: bool = Field(
        default=False,
        description="the system declining for an expert who never answered: only while unanswered",
    )


class LogHours(Message):
    assignment_id: Id
    expert_id: Id
    hours: float = Field(gt=0, le=24 * 31, description="hours worked, in whole minutes")
    note: Text = ""


class CompleteRequest(Message):
    request_id: Id
    by: Name
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: Text = ""


class GetAudit(Message):
    subject: str | None = Field(default=None, max_length=120, description="e.g. assignment:a-1")
    limit: int = Field(default=1000, ge=1, le=100_000)


class ChangeContractStatus(Message):
    """Staff move a contract through its lifecycle; exhausted and expired are the system's."""

    contract_id: Id
    to: Literal["active", "suspended", "terminated"]
    by: Name
    reason: Text = ""


class ExpireContracts(Message):
    """Mark every contract whose last day is before `today` expired (the service's daily sweep)."""

    today: dt.date | None = Field(default=None, description="the service's local date when unset")


class DecideAssignments(Message):
    """Staff approve or reject a batch of proposals; each is decided on its own."""

    assignment_ids: list[Id] = Field(min_length=1, max_length=500)
    decision: Literal["approve", "reject"]
    by: Name
    comment: Text = ""


class DecideExtraHours(Message):
    """Staff approve (consume) or refuse the hours an expert logged beyond the reservation."""

    assignment_id: Id
    approve: bool
    by: Name
    comment: Text = ""


class GetReport(Message):
    kind: Literal["contracts", "units", "experts"]
    today: dt.date | None = Field(default=None, description="for days to expiry; the service's date")


class GetReference(Message):
    """Units, experts and contracts as registered (for export to the staff's sheets). With `ids`,
    only the units, experts and contracts of those ids (whether a unit or an expert exists: the
    portal's accounts are bound to them)."""

    ids: list[Id] | None = Field(default=None, max_length=100, description="only these ids; none: everything")


# ---------------------------------------------------------------- contracts: events
class UnitRegistered(Message):
    unit: Unit


class TravelRegistered(Message):
    pairs: list[TravelTime] = Field(max_length=50000)


class ExpertRegistered(Message):
    expert: Expert


class ContractRegistered(Message):
    contract: Contract
    status: ContractStatus = ContractStatus.ACTIVE
    revision: int = Field(default=0, description="a consumer ignores a revision older than its copy")


class ContractStatusChanged(Message):
    """A contract moved in its lifecycle; only an active one may be given new work."""

    contract_id: Ref
    expert_id: Ref
    status: ContractStatus
    previous: ContractStatus
    by: Who
    reason: Text = ""
    revision: int
    contract: Contract


class BalanceChanged(Message):
    """What a contract and its expert may still be given: the matcher plans with this."""

    contract_id: Ref
    expert_id: Ref
    hours_used: float = Field(description="hours consumed or reserved under the contract")
    budget_used_vnd: int = Field(description="dong consumed or reserved under the contract")
    active_assignments: int
    expert_committed_hours: float = Field(description="the expert's hours consumed or reserved")
    hours_cap: float | None = None
    budget_cap_vnd: int | None = None
    end: dt.date | None = Field(default=None, description="the contract's last day")
    revision: int | None = Field(
        default=None,
        description="the contract's balance revision, higher for a newer balance; a consumer ignores one "
        "lower than the last it applied (absent from events of earlier versions: taken as 0)",
    )
    expert_revision: int | None = Field(
        default=None,
        description="the expert's booking revision (across all its contracts): a consumer applies "
        "expert_committed_hours only when it is higher than the last it applied",
    )
    counted: list[Ref] = Field(
        default_factory=list,
        max_length=10_000,
        description="the live assignments (approved, accepted) whose reservation this balance includes: a "
        "consumer that has not heard of an approval yet must not count that work twice",
    )


class ReferenceRegistered(Message):
    """A chunk of one registration (a load, a sheet import): its units, travel times, experts,
    contracts and the new contracts' balances in one event, instead of one event per item. A
    consumer applies it in one transaction; each contract and balance keeps its own revision and
    event id, so it is ordered against the single events of the same contract as before."""

    units: list[Unit] = Field(default_factory=list, max_length=L.REFERENCE_CHUNK)
    travel_minutes: list[TravelTime] = Field(default_factory=list, max_length=L.TRAVEL_CHUNK)
    experts: list[Expert] = Field(default_factory=list, max_length=L.REFERENCE_CHUNK)
    contracts: list[ContractRegistered] = Field(default_factory=list, max_length=L.REFERENCE_CHUNK)
    balances: list[BalanceChanged] = Field(default_factory=list, max_length=L.REFERENCE_CHUNK)


class AssignmentDecision(Message):
    assignment_id: Ref
    request_id: Ref
    unit_id: Ref
    expert_id: Ref
    contract_id: Ref
    title: Title = ""


class AssignmentApproved(AssignmentDecision):
    by: Who
    comment: Text = ""
    mode: Word
    hours: float
    deadline: dt.date
    reserved_minutes: int
    reserved_vnd: int


class AssignmentRejected(AssignmentDecision):
    by: Who
    reason: Text = ""


class AssignmentAccepted(AssignmentDecision):
    pass


class AssignmentDeclined(AssignmentDecision):
    reason: Text = ""
    released_minutes: int = 0
    released_vnd: int = 0


class AssignmentCancelled(AssignmentDecision):
    reason: Text = ""
    released_minutes: int = 0
    released_vnd: int = 0


class HoursLogged(AssignmentDecision):
    minutes: int
    cost_vnd: int
    total_minutes: int
    reserved_minutes: int


class HoursFlagged(AssignmentDecision):
    """Hours logged beyond the reservation: held until staff approve or refuse them."""

    minutes: int = Field(description="the minutes now waiting for staff")
    reserved_minutes: int
    logged_minutes: int


class HoursRefused(AssignmentDecision):
    minutes: int
    by: Who
    reason: Text = ""


class RequestCompleted(Message):
    request_id: Ref
    unit_id: Ref
    by: Who
    rating: int | None = None
    assignments: list[AssignmentDecision] = Field(default_factory=list, max_length=1000)
    released_minutes: int = 0
    released_vnd: int = 0
    # Of `assignments`, those that ended completed (the others were cancelled); None from an
    # earlier version, which did not say.
    completed: list[Ref] | None = Field(default=None, max_length=1000)


# ---------------------------------------------------------------- contracts: replies
class GetContractsStatus(Message):
    """`contracts.status.get`: assignments with their status, oldest first, and the contracts'
    balances. Every filter given narrows the list; `limit` keeps the newest that many (the reply
    says `truncated`). The counts are always whole. A national system holds more than one NATS
    message can carry: the portal asks for what its page shows. (The fields of the `GetStatus`
    it was sent as before: an old caller's message still parses.)"""

    unit_id: Id | None = Field(
        default=None,
        description="one unit's assignments, and the balances of the contracts that can serve it "
        "(in scope, or unscoped)",
    )
    request_ids: list[Id] | None = Field(default=None, max_length=1000)
    expert_id: Id | None = None
    contract_id: Id | None = None
    statuses: list[Annotated[str, Field(max_length=20)]] | None = Field(default=None, max_length=20)
    extra_pending: bool = Field(default=False, description="only assignments with extra hours waiting")
    limit: int | None = Field(default=None, ge=1, le=10_000)
    oldest_first: bool = Field(default=False, description="with `limit`: the oldest that many instead")
    with_contracts: bool = Field(default=True, description="include every balance")


class VerifyAudit(Message):
    """`contracts.audit_verify.get`: recompute the audit trail's hash chain and check every proof."""


class AssignmentView(BaseModel):
    """An assignment as the contracts service holds it (its explanation is in the audit trail)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: Ref
    request_id: Ref
    slot: int = 0
    unit_id: Ref
    title: Title = ""
    expert_id: Ref
    contract_id: Ref
    mode: Word
    hours: float
    deadline: dt.date
    travel_minutes: int
    minutes: int
    cost_vnd: int = Field(description="the matcher's estimate; the ledger prices from the contract")
    plan_input_sha256: Annotated[str, Field(max_length=64)] = ""
    status: Word = Field(description="proposed, approved, accepted, completed, rejected, declined, cancelled...")
    origin: Word = Field(default="solver", description="solver, or manual (a staff override)")
    reserved_minutes: int = 0
    reserved_vnd: int = 0
    logged_minutes: int = 0
    consumed_vnd: int = 0
    extra_minutes_pending: int = Field(default=0, description="minutes logged beyond the reservation, for staff")
    decided_by: Text = ""
    note: Annotated[str, Field(max_length=L.BODY)] = Field(default="", description="the last move's comment or reason")
    created_at: dt.datetime
    updated_at: dt.datetime


class ContractBalance(BaseModel):
    """A contract's status and what it has left: hours and dong used (before this system and
    consumed since), reserved by approved work, and left under its caps."""

    model_config = ConfigDict(frozen=True)
    id: Ref
    expert_id: Ref
    kind: Word
    status: ContractStatus
    hourly_rate_vnd: int
    hours_cap: float
    hours_used: float
    hours_reserved: float
    hours_left: float
    budget_cap_vnd: int | None = None
    budget_used_vnd: int
    budget_reserved_vnd: int
    budget_left_vnd: int | None = Field(default=None, description="none without a budget cap")
    active_assignments: int
    max_concurrent: int
    start: dt.date
    end: dt.date


class ContractCounts(BaseModel):
    """How many of each the contracts service holds (whole, whatever the filters)."""

    model_config = ConfigDict(frozen=True)
    units: int = 0
    experts: int = 0
    contracts: int = 0
    assignments: int = 0


class ContractsStatus(BaseModel):
    """The reply to `GetContractsStatus`: the assignments asked for, the balances, the counts."""

    model_config = ConfigDict(frozen=True)
    assignments: list[AssignmentView] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    contracts: list[ContractBalance] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    counts: ContractCounts = Field(default_factory=ContractCounts)
    truncated: bool = False


class Registered(BaseModel):
    """The reply to `RegisterReference`: how many of each were registered."""

    model_config = ConfigDict(frozen=True)
    units: int
    experts: int
    contracts: int
    travel_minutes: int


class ContractMoved(BaseModel):
    """The reply to `ChangeContractStatus`: the status the contract has now (an activated one
    with nothing left is exhausted) and the open assignments a termination cancelled."""

    model_config = ConfigDict(frozen=True)
    contract_id: Ref
    status: ContractStatus
    revision: int
    cancelled_assignments: int = 0


class ContractsExpired(BaseModel):
    """The reply to `ExpireContracts`: the contracts expired now, and the day it was done for."""

    model_config = ConfigDict(frozen=True)
    expired: list[Ref] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    today: dt.date


class AssignmentMoved(BaseModel):
    """An assignment's new status (rejected, accepted)."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    status: Word


class AssignmentReserved(BaseModel):
    """The reply to `ApproveAssignment`: approved, and what the ledger reserved for it."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    status: Word
    reserved_minutes: int
    reserved_vnd: int


class AssignmentReleased(BaseModel):
    """The reply to `DeclineAssignment`: declined, and the minutes its reservation gave back."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    status: Word
    released_minutes: int


class DecisionResult(BaseModel):
    """One proposal of a batch decision: decided (its status, and for an approval what was
    reserved), or refused with the reason."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    ok: bool
    status: Word | None = None
    reserved_minutes: int | None = Field(default=None, description="an approval's")
    reserved_vnd: int | None = Field(default=None, description="an approval's")
    error: Text | None = Field(default=None, description="why it was refused")


class BatchDecided(BaseModel):
    """The reply to `DecideAssignments`: each proposal decided on its own, in the order sent."""

    model_config = ConfigDict(frozen=True)
    decision: Literal["approve", "reject"]
    decided: int
    refused: int
    results: list[DecisionResult] = Field(default_factory=list, max_length=500)


class HoursTaken(BaseModel):
    """The reply to `LogHours`: the minutes logged in all, what the ones within the reservation
    cost, and the minutes beyond it waiting for staff."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    logged_minutes: int
    cost_vnd: int
    flagged_minutes: int


class ExtraHoursDecided(BaseModel):
    """The reply to `DecideExtraHours`: the extra minutes charged (and their cost) or refused."""

    model_config = ConfigDict(frozen=True)
    assignment_id: Ref
    approved_minutes: int
    refused_minutes: int = 0
    cost_vnd: int = 0


class RequestDone(BaseModel):
    """The reply to `CompleteRequest`: its assignments closed, the minutes released."""

    model_config = ConfigDict(frozen=True)
    request_id: Ref
    completed: int = Field(description="assignments closed (completed, or cancelled if not accepted)")
    released_minutes: int


class AuditEntry(BaseModel):
    """One decision of the audit trail: who, when, what, the state before and after, and the seal."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    seq: int
    at: dt.datetime
    actor: Who
    action: Word
    subject: Annotated[str, Field(max_length=L.SHORT)] = Field(description="assignment:a-1, contract:c1 ...")
    before: dict[Word, Any] = Field(default_factory=dict, max_length=L.EXPLANATION_KEYS)
    after: dict[Word, Any] = Field(default_factory=dict, max_length=L.EXPLANATION_KEYS)
    detail: dict[Word, Any] = Field(
        default_factory=dict, max_length=L.EXPLANATION_KEYS, description="the explanation, the contract line ..."
    )
    correlation_id: Annotated[str, Field(max_length=64)] = ""
    actor_role: Word | None = Field(default=None, description="none: written before signing")
    actor_party: Annotated[str, Field(max_length=80)] | None = None
    channel: Word | None = None
    proof: dict[Word, Any] | None = Field(
        default=None, max_length=10, description="a signed command: credential, signature, document"
    )
    prev_hash: Annotated[str, Field(max_length=64)]
    hash: Annotated[str, Field(max_length=64)]


class AuditTrail(BaseModel):
    """The reply to `GetAudit`: the newest entries asked for, oldest first."""

    model_config = ConfigDict(frozen=True)
    entries: list[AuditEntry] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    truncated: bool = False


class AuditVerified(BaseModel):
    """The reply to `VerifyAudit`: intact or not, every problem as a sentence, and the entries
    counted by how they are proven."""

    model_config = ConfigDict(frozen=True)
    intact: bool
    problems: list[Text] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    entries: int = Field(description="entries written (the head's count)")
    signed: int = Field(default=0, description="decisions proven to be their person's")
    system: int = Field(default=0, description="the services' own entries")
    unsigned_before_signing: int = 0
    truncated: bool = False


class ContractReport(BaseModel):
    """A row of the contracts report: what a contract has left and for how long."""

    model_config = ConfigDict(frozen=True)
    contract: Ref
    kind: Word
    expert: Ref
    status: ContractStatus
    start: dt.date
    end: dt.date
    days_to_expiry: int
    hourly_rate_vnd: int
    hours_cap: float
    hours_used: float
    hours_reserved: float
    hours_left: float
    budget_cap_vnd: int | None
    budget_used_vnd: int
    budget_reserved_vnd: int
    budget_left_vnd: int | None
    active_assignments: int
    max_concurrent: int


class UnitReport(BaseModel):
    """A row of the units report: what a unit asked for and received."""

    model_config = ConfigDict(frozen=True)
    unit: Ref
    name: Annotated[str, Field(max_length=L.NAME)]
    requests: int
    covered: int = Field(description="requests with approved, accepted or completed work")
    hours_received: float
    cost_vnd: int = Field(description="consumed under project contracts")
    allowance_vnd: int = Field(description="consumed under sharing agreements")


class ExpertReport(BaseModel):
    """A row of the experts report: how loaded an expert is, and their assignments by status."""

    model_config = ConfigDict(frozen=True)
    expert: Ref
    name: Annotated[str, Field(max_length=L.NAME)]
    kind: Word
    home_unit: Ref
    capacity_hours: float
    load_hours: float
    hours_logged: float
    load_pct: float | None
    assignments_proposed: int
    assignments_approved: int
    assignments_accepted: int
    assignments_completed: int
    assignments_rejected: int
    assignments_declined: int
    assignments_cancelled: int


class Report(BaseModel):
    """The reply to `GetReport`: one row per contract, unit or expert (`kind`)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["contracts", "units", "experts"]
    today: dt.date
    rows: list[ContractReport | UnitReport | ExpertReport] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    truncated: bool = False


class RegisteredContract(Contract):
    """A contract as registered, with the status it has now."""

    status: ContractStatus


class ReferenceData(BaseModel):
    """The reply to `GetReference`: units, experts and contracts in the registration format."""

    model_config = ConfigDict(frozen=True)
    units: list[Unit] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    experts: list[Expert] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    contracts: list[RegisteredContract] = Field(default_factory=list, max_length=L.REPLY_ROWS)
    truncated: bool = False


# ---------------------------------------------------------------- notifier
class GetInbox(Message):
    party: Party
    unread_only: bool = False
    limit: int = Field(default=50, ge=1, le=500)


class MarkRead(Message):
    party: Party
    notification_ids: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list, max_length=500)


class NotificationDelivered(Message):
    notification_id: Ref
    party: Word
    channel: Word
    kind: Word
    source_event_id: Ref


class NotificationFailed(Message):
    """A send the notifier gave up on after its retries (or at once, when retrying cannot help)."""

    delivery_id: Ref
    notification_id: Ref | None = None
    party: Word
    channel: Word
    kind: Word
    source_event_id: Ref
    attempts: int
    reason: Text


ChannelName = Literal["inbox", "email", "webhook"]


class SetPreferences(Message):
    """A party's notification choices: a field left None stays as it was; the inbox is always on."""

    party: Party
    channels: list[ChannelName] | None = Field(default=None, max_length=3)
    language: Literal["vi", "en"] | None = None
    email: str | None = Field(default=None, max_length=254, description="an empty string clears it")
    webhook_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=L.URL)] | None = None
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    digest: bool | None = Field(default=None, description="one daily digest instead of one message per event")

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("not an email address")
        return v


class GetPreferences(Message):
    party: Party


class GetDeliveries(Message):
    status: DeliveryStatus | None = None
    party: Party | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class RetryDeliveries(Message):
    """Send failed deliveries again: the ones named, or every failed one."""

    delivery_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,18}$")]] = Field(default_factory=list, max_length=1000)
    all: bool = False


# ---------------------------------------------------------------- notifier: replies
class NotificationView(BaseModel):
    """One notification of a party's inbox."""

    model_config = ConfigDict(frozen=True)
    id: Annotated[str, Field(max_length=20)]
    kind: Word
    subject: Title
    body: Annotated[str, Field(max_length=L.BODY)]
    language: Annotated[str, Field(max_length=L.LANGUAGE)]
    read: bool = False
    created_at: Annotated[str, Field(max_length=40, description="ISO 8601")]
    source_event_id: Ref


class InboxView(BaseModel):
    """The reply to `GetInbox`: the newest notifications first, and how many are unread in all."""

    model_config = ConfigDict(frozen=True)
    unread: int = 0
    notifications: list[NotificationView] = Field(default_factory=list, max_length=500)
    truncated: bool = False


class MarkedRead(BaseModel):
    """The reply to `MarkRead`: how many notifications were unread and are read now."""

    model_config = ConfigDict(frozen=True)
    marked: int


class PreferencesView(BaseModel):
    """The reply to `GetPreferences` and `SetPreferences`: a party's choices as they stand (the
    webhook's secret never leaves the notifier: only whether there is one)."""

    model_config = ConfigDict(frozen=True)
    party: Party
    channels: list[Word] = Field(max_length=3, description="the inbox first, then email and webhook when chosen")
    language: Annotated[str, Field(max_length=L.LANGUAGE)]
    email: Annotated[str, Field(max_length=254)] | None = None
    webhook_url: Annotated[str, Field(max_length=L.URL)] | None = None
    webhook_secret_set: bool = False
    digest: bool = False


class DeliveryView(BaseModel):
    """One send on an external channel (email, webhook) and how it went."""

    model_config = ConfigDict(frozen=True)
    id: Annotated[str, Field(max_length=20)]
    party: Annotated[str, Field(max_length=80)]
    channel: Word
    kind: Word
    subject: Title
    status: Word = Field(description="pending, sent or failed")
    attempts: int = 0
    last_error: Annotated[str, Field(max_length=L.REASON)] = ""
    created_at: Annotated[str, Field(max_length=40, description="ISO 8601")]
    finished_at: Annotated[str, Field(max_length=40)] | None = None


class DeliveriesView(BaseModel):
    """The reply to `GetDeliveries`: the newest first."""

    model_config = ConfigDict(frozen=True)
    deliveries: list[DeliveryView] = Field(default_factory=list, max_length=1000)
    truncated: bool = False


class RetriedDeliveries(BaseModel):
    """The reply to `RetryDeliveries`: the deliveries queued again."""

    model_config = ConfigDict(frozen=True)
    retried: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list, max_length=REPLY_ROWS)
    truncated: bool = False


# ---------------------------------------------------------------- portal
class IssueCredential(Message):
    """`expertshare login`: a portal user's name and password, for a short-lived credential for
    the public key made on the user's machine (the private key never leaves it)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, repr=False)
    key: str = Field(min_length=56, max_length=56, description="the new public USER nkey")
    hours: float = Field(default=12, gt=0, le=12)


# ---------------------------------------------------------------- portal: replies
class IssuedCredential(BaseModel):
    """The reply to `IssueCredential`: the credential for the key sent, signed by the issuer."""

    model_config = ConfigDict(frozen=True)
    credential: str = Field(max_length=4096)


DeadKind = Literal["invalid", "refused", "unknown", "failed"]


class DeadLetter(BaseModel):
    """A message a service could not process, kept with the reason (never retried forever)."""

    model_config = ConfigDict(frozen=True)
    service: str
    subject: str
    kind: DeadKind = Field(
        default="invalid",
        description="invalid (malformed or failing its schema), refused (a rule), unknown (what it refers "
        "to never came), failed (the handler raised until max_deliver): the metrics' label",
    )
    reason: str
    payload: str
    headers: dict[str, str] = Field(default_factory=dict)
    deliveries: int = 1
    occurred_at: dt.datetime = Field(default_factory=now)
