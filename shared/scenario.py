"""The scenario format: units, experts, contracts, requests, pins and exclusions.

This is the one shape of the planning data, shared by `expertshare load`, `expertshare solve`, the
messages that register reference data and the matcher's engine. It validates everything a single
record can tell (ranges, enums, known skills) and, on a whole `Scenario`, every cross reference, so
that an error always names the field that is wrong (``requests[3].unit: unknown unit 'w9'``).

It owns no rule of matching: eligibility, travel estimates and costs live in the matcher.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import limits as L

#: The skills the provinces ask for, with plain-language names for people (vi, en).
SKILLS: dict[str, tuple[str, str]] = {
    "office_it": ("Tin học văn phòng", "Office IT"),
    "digital_signature": ("Chữ ký số", "Digital signatures"),
    "public_service_portal": ("Cổng dịch vụ công trực tuyến", "Online public-service portal"),
    "e_records": ("Hồ sơ điện tử", "Electronic records"),
    "national_database": ("Cơ sở dữ liệu quốc gia", "National databases"),
    "info_security": ("An toàn thông tin", "Information security"),
    "network_infra": ("Hạ tầng mạng", "Network infrastructure"),
    "video_conference": ("Họp trực tuyến", "Video conferencing"),
    "cashless_payment": ("Thanh toán không dùng tiền mặt", "Cashless payment"),
    "data_analysis": ("Phân tích dữ liệu", "Data analysis"),
}

Id = Annotated[str, Field(min_length=1, max_length=L.ID, pattern=r"^[A-Za-z0-9_.:-]+$")]
Level = Annotated[int, Field(ge=1, le=5, description="skill level, 1 (basic) to 5 (expert)")]
Hours = Annotated[float, Field(gt=0, le=10_000)]
NonNegHours = Annotated[float, Field(ge=0, le=1_000_000)]
Dong = Annotated[int, Field(ge=0, description="an amount in whole Vietnamese dong")]
Network = Literal["weak", "ok", "good"]
Language = Annotated[
    str, Field(min_length=1, max_length=L.LANGUAGE, pattern=r"^[\w-]+$", description="a language tag: vi, en, tay...")
]
Skills = Annotated[dict[Annotated[str, Field(max_length=L.SHORT)], Level], Field(max_length=L.SKILLS)]
Mode = Literal["onsite", "remote", "either"]


class Record(BaseModel):
    """A record of the format: immutable, unknown fields ignored (newer producers may add some)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, allow_inf_nan=False)


def _whole_minutes(value: float, what: str) -> float:
    if abs(value * 60 - round(value * 60)) > 1e-6:
        raise ValueError(f"{what} must be a whole number of minutes, got {value} h")
    return value


def _check_skills(skills: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(skills) - set(SKILLS))
    if unknown:
        raise ValueError(f"unknown skill {L.clip(unknown[0], 40)!r}; known skills: {', '.join(SKILLS)}")
    return skills


def minutes(hours: float) -> int:
    """Hours as whole minutes (the format only admits whole minutes)."""
    return round(hours * 60)


class Horizon(Record):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Location(Record):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Unit(Record):
    id: Id
    name: str = Field(min_length=1, max_length=L.NAME)
    province: str = Field(min_length=1, max_length=L.SHORT)
    network: Network
    location: Location | None = None


class TravelTime(Record):
    from_unit: Id = Field(alias="from")
    to_unit: Id = Field(alias="to")
    minutes: int = Field(ge=0, le=10_000)


class Expert(Record):
    id: Id
    name: str = Field(min_length=1, max_length=L.NAME)
    home_unit: Id
    kind: Literal["shared", "contract", "community"]
    skills: Skills
    languages: list[Language] = Field(default_factory=lambda: ["vi"], max_length=L.LANGUAGES)
    remote: bool
    onsite: bool
    max_travel_minutes: int = Field(ge=0, le=10_000)
    capacity_hours: NonNegHours
    committed_hours: NonNegHours = 0

    _skills = field_validator("skills")(_check_skills)

    @field_validator("capacity_hours", "committed_hours")
    @classmethod
    def _minutes(cls, v: float) -> float:
        return _whole_minutes(v, "hours")


class Contract(Record):
    id: Id
    expert: Id
    kind: Literal["sharing", "project"]
    hourly_rate_vnd: Dong
    hours_cap: NonNegHours
    hours_used: NonNegHours = 0
    budget_cap_vnd: Dong | None = None
    budget_used_vnd: Dong = 0
    max_concurrent: int = Field(ge=0, le=10_000)
    active_assignments: int = Field(default=0, ge=0)
    start: dt.date
    end: dt.date
    scope_units: list[Id] | None = Field(default=None, max_length=L.SCOPE_UNITS)

    @field_validator("hours_cap", "hours_used")
    @classmethod
    def _minutes(cls, v: float) -> float:
        return _whole_minutes(v, "hours")

    @model_validator(mode="after")
    def _ordered(self) -> Contract:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Slot(Record):
    skills: Skills
    hours: Hours

    _skills = field_validator("skills")(_check_skills)

    @field_validator("hours")
    @classmethod
    def _minutes(cls, v: float) -> float:
        return _whole_minutes(v, "hours")


class Request(Record):
    id: Id
    unit: Id
    title: str = Field(min_length=1, max_length=L.TITLE)
    skills: Skills = Field(default_factory=dict)
    mode: Mode
    hours: Hours
    priority: int = Field(ge=1, le=5, description="1 (can wait) to 5 (most urgent)")
    deadline: dt.date
    language: Language | None = None
    slots: list[Slot] | None = Field(default=None, min_length=1, max_length=L.SLOTS)
    trainee: bool = Field(
        default=False,
        description=(
            "take a community member of the same commune as a trainee beside the expert, when one fits "
            "(never at the cost of coverage)"
        ),
    )

    _skills = field_validator("skills")(_check_skills)

    @field_validator("hours")
    @classmethod
    def _minutes(cls, v: float) -> float:
        return _whole_minutes(v, "hours")

    def effective_slots(self) -> list[Slot]:
        """The slots to fill: the request's own skills and hours when it names no slots."""
        return list(self.slots) if self.slots else [Slot(skills=self.skills, hours=self.hours)]


class Pin(Record):
    request: Id
    expert: Id
    contract: Id
    slot: int = Field(default=0, ge=0)


class Exclusion(Record):
    request: Id
    expert: Id


#: A contract a province could sign (the menu of `expertshare plan-hiring` and of the matcher's
#: hiring-plan query; services/matcher/hiring/menu.py has the file's format and the default menu).
CANDIDATE_ID = 50
DEFAULT_CONCURRENT = 5

CandidateId = Annotated[str, Field(min_length=1, max_length=CANDIDATE_ID, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Candidate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: CandidateId
    name: str = Field(default="", max_length=L.NAME)
    skills: Skills = Field(min_length=1)
    languages: list[Language] = Field(default_factory=lambda: ["vi"], min_length=1, max_length=L.LANGUAGES)
    home_unit: Id | None = None
    remote: bool = True
    max_travel_minutes: int = Field(default=120, ge=0, le=10_000)
    hours_cap: Hours
    hourly_rate_vnd: int = Field(ge=0, le=100_000_000)
    budget_cap_vnd: int | None = Field(default=None, ge=0, le=100_000_000_000)
    max_concurrent: int = Field(default=DEFAULT_CONCURRENT, ge=1, le=10_000)
    scope_units: list[Id] | None = Field(default=None, max_length=L.SCOPE_UNITS)

    _skills = field_validator("skills")(_check_skills)

    @field_validator("hours_cap")
    @classmethod
    def _minutes(cls, v: float) -> float:
        return _whole_minutes(v, "hours_cap")

    @model_validator(mode="after")
    def _works_somehow(self) -> Candidate:
        if self.home_unit is None and not self.remote:
            raise ValueError("a candidate without home_unit works remotely only: remote cannot be false")
        return self

    @property
    def cost_vnd(self) -> int:
        """The most its contract may spend."""
        full = -(-minutes(self.hours_cap) * self.hourly_rate_vnd // 60)  # whole dong, rounded up
        return full if self.budget_cap_vnd is None else min(full, self.budget_cap_vnd)

    @property
    def where(self) -> str:
        return "remote only" if self.home_unit is None else self.home_unit


class Scenario(Record):
    """A whole planning problem; cross references are checked here."""

    horizon: Horizon
    units: list[Unit] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)
    travel_minutes: list[TravelTime] = Field(default_factory=list, max_length=L.SCENARIO_TRAVEL)
    experts: list[Expert] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)
    contracts: list[Contract] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)
    requests: list[Request] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)
    pinned: list[Pin] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)
    excluded: list[Exclusion] = Field(default_factory=list, max_length=L.SCENARIO_RECORDS)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        errors = scenario_reference_errors(self)
        if errors:
            raise ValueError("; ".join(errors[:20]) + (" ..." if len(errors) > 20 else ""))
        return self


def _duplicates(kind: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, x in enumerate(ids):
        if x in seen:
            out.append(f"{kind}[{i}].id: duplicate id {x!r}")
        seen.add(x)
    return out


def scenario_reference_errors(s: Scenario) -> list[str]:
    """Every broken cross reference of a scenario, each naming its field."""
    units = {u.id for u in s.units}
    experts = {e.id for e in s.experts}
    contracts = {c.id: c for c in s.contracts}
    requests = {r.id: r for r in s.requests}
    errs = [
        *_duplicates("units", [u.id for u in s.units]),
        *_duplicates("experts", [e.id for e in s.experts]),
        *_duplicates("contracts", [c.id for c in s.contracts]),
        *_duplicates("requests", [r.id for r in s.requests]),
    ]
    given: dict[frozenset[str], int] = {}
    for i, t in enumerate(s.travel_minutes):
        for field, uid in (("from", t.from_unit), ("to", t.to_unit)):
            if uid not in units:
                errs.append(f"travel_minutes[{i}].{field}: unknown unit {uid!r}")
        pair = frozenset((t.from_unit, t.to_unit))
        if t.from_unit == t.to_unit and t.minutes:
            errs.append(f"travel_minutes[{i}].minutes: a unit is 0 minutes from itself, got {t.minutes}")
        elif given.setdefault(pair, t.minutes) != t.minutes:
            errs.append(
                f"travel_minutes[{i}].minutes: {t.from_unit}-{t.to_unit} is already given as "
                f"{given[pair]} minutes (travel is symmetric), got {t.minutes}"
            )
    for i, e in enumerate(s.experts):
        if e.home_unit not in units:
            errs.append(f"experts[{i}].home_unit: unknown unit {e.home_unit!r}")
    for i, c in enumerate(s.contracts):
        if c.expert not in experts:
            errs.append(f"contracts[{i}].expert: unknown expert {c.expert!r}")
        for uid in c.scope_units or []:
            if uid not in units:
                errs.append(f"contracts[{i}].scope_units: unknown unit {uid!r}")
    for i, r in enumerate(s.requests):
        if r.unit not in units:
            errs.append(f"requests[{i}].unit: unknown unit {r.unit!r}")
    for i, p in enumerate(s.pinned):
        req = requests.get(p.request)
        if req is None:
            errs.append(f"pinned[{i}].request: unknown request {p.request!r}")
        elif p.slot >= len(req.effective_slots()):
            errs.append(f"pinned[{i}].slot: request {p.request!r} has no slot {p.slot}")
        if p.expert not in experts:
            errs.append(f"pinned[{i}].expert: unknown expert {p.expert!r}")
        held = contracts.get(p.contract)
        if held is None:
            errs.append(f"pinned[{i}].contract: unknown contract {p.contract!r}")
        elif held.expert != p.expert:
            errs.append(f"pinned[{i}].contract: contract {p.contract!r} is not {p.expert!r}'s")
    for i, x in enumerate(s.excluded):
        if x.request not in requests:
            errs.append(f"excluded[{i}].request: unknown request {x.request!r}")
        if x.expert not in experts:
            errs.append(f"excluded[{i}].expert: unknown expert {x.expert!r}")
    return errs
