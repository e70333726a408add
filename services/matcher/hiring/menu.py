"""The menu of contracts a province could sign: the candidate file's format, its checks, the default
menu drawn from the scenario itself, and each candidate as the scenario's own records.

A candidate file is JSON, ``{"candidates": [...]}``, at most MAX_CANDIDATES entries, each:

    id                  1 to 50 characters, letters, digits and _ . : - (new ids: hire-<id>, hire-<id>-c)
    skills              {"digital_signature": 3, ...}: known skills, levels 1 to 5 (at least one)
    home_unit           the commune the person lives in (works on site from there, and remotely
                        if "remote"); null or left out: remote only
    hours_cap           hours the contract buys (whole minutes), also the person's capacity
    hourly_rate_vnd     whole dong per hour
    budget_cap_vnd      optional: the contract's money cap
    name, languages (["vi"]), remote (true), max_travel_minutes (120), max_concurrent (5),
    scope_units (null: every commune)

Unknown fields are refused (a misspelt `hours_cap` must not pass silently). What a candidate costs
is what its contract may spend at most: its budget cap, or its hours cap x its rate if that is less
(or when it has no cap).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.matcher.solver.limits import weight
from services.matcher.solver.plan import Plan
from shared import limits as L
from shared.scenario import (
    DEFAULT_CONCURRENT,
    Candidate,
    Contract,
    Expert,
    Scenario,
)

MAX_CANDIDATES = 1000
PREFIX = "hire-"
#: The default menu: at most this many candidates, and these when the scenario has no project contract.
DEFAULT_MENU = 100
DEFAULT_RATE_VND = 200_000
DEFAULT_HOURS = 40
#: Skills one default candidate brings: the skill it is drawn for and the ones most asked with it.
MENU_SKILLS = 3


class Menu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: list[Candidate] = Field(max_length=MAX_CANDIDATES)


class MenuError(ValueError):
    """A candidate file that cannot be used; the message names the field."""


def parse_menu(data: Any, sc: Scenario) -> list[Candidate]:
    """The candidates of a file's JSON, checked on their own and against the scenario."""
    if not isinstance(data, dict):
        raise MenuError('the file must be a JSON object: {"candidates": [...]}')
    try:
        menu = Menu.model_validate(data)
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in err.errors()[:20]]
        raise MenuError("; ".join(lines)) from None
    units = {u.id for u in sc.units}
    taken = {e.id for e in sc.experts} | {c.id for c in sc.contracts}
    errors, seen = [], set()
    for i, c in enumerate(menu.candidates):
        if c.id in seen:
            errors.append(f"candidates.{i}.id: duplicate id {c.id!r}")
        seen.add(c.id)
        if c.home_unit is not None and c.home_unit not in units:
            errors.append(f"candidates.{i}.home_unit: unknown unit {c.home_unit!r}")
        for uid in c.scope_units or []:
            if uid not in units:
                errors.append(f"candidates.{i}.scope_units: unknown unit {L.clip(uid, 70)!r}")
                break
        if {expert_id(c), contract_id(c)} & taken:
            errors.append(f"candidates.{i}.id: {expert_id(c)!r} is already in the scenario")
    if errors:
        raise MenuError("; ".join(errors[:20]))
    return list(menu.candidates)


def expert_id(c: Candidate) -> str:
    return PREFIX + c.id


def contract_id(c: Candidate) -> str:
    return PREFIX + c.id + "-c"


def records(c: Candidate, sc: Scenario, remote_home: str) -> tuple[Expert, Contract]:
    """The candidate as an expert and a project contract over the scenario's horizon. A remote-only
    candidate needs a home in the format: `remote_home` (it never travels, so only the locality
    term of the plan's second phase reads it)."""
    e = Expert(
        id=expert_id(c),
        name=c.name or f"Candidate {c.id}",
        home_unit=c.home_unit or remote_home,
        kind="contract",
        skills=c.skills,
        languages=c.languages,
        remote=c.remote,
        onsite=c.home_unit is not None,
        max_travel_minutes=c.max_travel_minutes,
        capacity_hours=c.hours_cap,
    )
    k = Contract(
        id=contract_id(c),
        expert=e.id,
        kind="project",
        hourly_rate_vnd=c.hourly_rate_vnd,
        hours_cap=c.hours_cap,
        budget_cap_vnd=c.budget_cap_vnd,
        max_concurrent=c.max_concurrent,
        start=sc.horizon.start,
        end=sc.horizon.end,
        scope_units=c.scope_units,
    )
    return e, k


def merge(sc: Scenario, chosen: list[Candidate]) -> Scenario:
    """The scenario with the candidates appended (existing experts and contracts keep their positions)."""
    pairs = [records(c, sc, sc.units[0].id) for c in chosen]
    return sc.model_copy(
        update={"experts": [*sc.experts, *(e for e, _ in pairs)], "contracts": [*sc.contracts, *(k for _, k in pairs)]}
    )


def default_menu(sc: Scenario, before: Plan, limit: int = DEFAULT_MENU) -> list[Candidate]:
    """Candidates drawn from the scenario: the median rate, hours cap, budget cap and concurrency of
    its project contracts; for each skill the uncovered requests need, one remote-only candidate and one based
    in each commune with uncovered demand for it, with that skill and the MENU_SKILLS - 1 skills
    most asked with it, each at the highest level the uncovered requests need. Ranked by the
    uncovered weight each could reach (remote-capable demand for a remote one, the commune's own
    for a local one), the first `limit` kept."""
    projects = [c for c in sc.contracts if c.kind == "project" and c.hourly_rate_vnd > 0]
    rate = int(statistics.median([c.hourly_rate_vnd for c in projects])) if projects else DEFAULT_RATE_VND
    hours = round(statistics.median([c.hours_cap for c in projects]) * 2) / 2 if projects else DEFAULT_HOURS
    conc = int(statistics.median([c.max_concurrent for c in projects])) if projects else DEFAULT_CONCURRENT
    caps = [c.budget_cap_vnd for c in projects if c.budget_cap_vnd is not None]
    cap = int(statistics.median(caps)) if caps else None
    uncovered = {u.request for u in before.unassigned}
    networks = {u.id: u.network for u in sc.units}
    level: dict[str, int] = defaultdict(int)
    together: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    remote_w: dict[str, int] = defaultdict(int)
    local_w: dict[tuple[str, str], int] = defaultdict(int)
    for r in sc.requests:
        if r.id not in uncovered:
            continue
        w = weight(r.priority)
        for slot in r.effective_slots():
            for s, lvl in slot.skills.items():
                level[s] = max(level[s], lvl)
                for other in slot.skills:
                    if other != s:
                        together[s][other] += w
                if r.mode == "remote" or (r.mode == "either" and networks[r.unit] != "weak"):
                    remote_w[s] += w
                if r.mode != "remote":
                    local_w[(s, r.unit)] += w
    ranked: list[tuple[int, str, str | None]] = [(w, s, None) for s, w in remote_w.items()]
    ranked += [(w, s, u) for (s, u), w in local_w.items()]
    ranked.sort(key=lambda t: (-t[0], t[1], t[2] or ""))
    taken = {e.id for e in sc.experts} | {c.id for c in sc.contracts}
    # m1, m2...; a number whose ids a scenario already has (a plan merged before) is skipped.
    ids = (f"m{k}" for k in itertools.count(1) if not {PREFIX + f"m{k}", PREFIX + f"m{k}-c"} & taken)
    out = []
    for (_, s, unit), cid in zip(ranked[:limit], ids, strict=False):
        extra = sorted(together[s], key=lambda o: (-together[s][o], o))[: MENU_SKILLS - 1]
        skills = {x: level[x] for x in [s, *extra]}
        out.append(
            Candidate(
                id=cid,
                name=f"{s} {'remote' if unit is None else 'at ' + unit}"[: L.NAME],
                skills=skills,
                home_unit=unit,
                hours_cap=hours,
                hourly_rate_vnd=rate,
                budget_cap_vnd=cap,
                max_concurrent=conc,
            )
        )
    return out
