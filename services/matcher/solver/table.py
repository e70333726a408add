"""Every eligible option of a scenario as columns (numpy arrays), built request by request with
vectorised masks over all experts and contracts: a whole country (10 000 requests x 2 000 experts)
in a few seconds, where testing pair by pair in Python would take minutes.

The rules are those of `options.py` (skills, language, exclusions, mode, travel range, contract
owner, dates and scope, minutes and cost), named by the same codes (`CHECKS`); travel is first
estimated in numpy to discard the clearly unreachable, then computed exactly by `Travel.minutes`
for the rest, so that every figure equals what `options_for_slot` and the validator compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.matcher.solver.options import KMH, WINDING, Option, Travel
from shared.rules import Reason, Rule
from shared.scenario import SKILLS, Request, Scenario, minutes

SKILL_INDEX = {s: i for i, s in enumerate(SKILLS)}
FAR = 1_000_000  # minutes: "no travel estimate", never within anyone's range

#: The rules the table checks, each as a mask: over experts (`expert_masks`, `reach`'s remote and
#: on-site candidates for the mode and travel rules, `skilled`) or over contracts (`contract_masks`;
#: a contract's owner is the expert its row is built for).
CHECKS = frozenset(
    {
        Rule.EXCLUDED,
        Rule.SKILL,
        Rule.LANGUAGE,
        Rule.MODE_REMOTE,
        Rule.MODE_ONSITE,
        Rule.TRAVEL,
        Rule.CONTRACT_OWNER,
        Rule.CONTRACT_DATES,
        Rule.CONTRACT_SCOPE,
    }
)


@dataclass
class OptionTable:
    """Option i is (request[i], slot[i], expert[i], contract[i]), indices into the scenario's lists."""

    sc: Scenario
    request: np.ndarray
    slot: np.ndarray
    expert: np.ndarray
    contract: np.ndarray
    onsite: np.ndarray
    travel: np.ndarray
    minutes: np.ndarray
    cost: np.ndarray
    local_rank: np.ndarray
    experts: ExpertArrays | None = None
    roads: Travel | None = None

    def __len__(self) -> int:
        return int(self.request.shape[0])

    def option(self, i: int) -> Option:
        sc = self.sc
        return Option(
            sc.requests[self.request[i]].id,
            int(self.slot[i]),
            sc.experts[self.expert[i]].id,
            sc.contracts[self.contract[i]].id,
            "onsite" if self.onsite[i] else "remote",
            int(self.travel[i]),
            int(self.minutes[i]),
            int(self.cost[i]),
            int(self.local_rank[i]),
        )

    def options(self, idx: np.ndarray | list[int] | None = None) -> list[Option]:
        rows = range(len(self)) if idx is None else idx
        return [self.option(int(i)) for i in rows]


class ExpertArrays:
    """Expert and contract attributes as arrays, built once per scenario."""

    def __init__(self, sc: Scenario, travel: Travel) -> None:
        ex = sc.experts
        self.levels = np.zeros((len(ex), len(SKILLS)), dtype=np.int8)
        for i, e in enumerate(ex):
            for s, lvl in e.skills.items():
                self.levels[i, SKILL_INDEX[s]] = lvl
        self.remote = np.array([e.remote for e in ex], dtype=bool)
        self.onsite = np.array([e.onsite for e in ex], dtype=bool)
        self.max_travel = np.array([e.max_travel_minutes for e in ex], dtype=np.int64)
        unit_pos = {u.id: k for k, u in enumerate(sc.units)}
        self.home = np.array([unit_pos[e.home_unit] for e in ex], dtype=np.int64)
        self.languages: dict[str, np.ndarray] = {}
        for i, e in enumerate(ex):
            for lang in e.languages:
                self.languages.setdefault(lang, np.zeros(len(ex), dtype=bool))[i] = True
        self.unit_pos = unit_pos
        lat = np.array([u.location.lat if u.location else np.nan for u in sc.units])
        lon = np.array([u.location.lon if u.location else np.nan for u in sc.units])
        self.lat, self.lon = np.radians(lat), np.radians(lon)
        # Given pairs override estimates: per unit, {other unit position: minutes}.
        self.given: dict[int, dict[int, int]] = {}
        for (a, b), m in travel.given.items():
            self.given.setdefault(unit_pos[a], {})[unit_pos[b]] = m
        expert_pos = {e.id: k for k, e in enumerate(ex)}
        cs = sc.contracts
        self.c_expert = np.array([expert_pos[c.expert] for c in cs], dtype=np.int64)
        self.c_start = np.array([c.start.toordinal() for c in cs], dtype=np.int64)
        self.c_end = np.array([c.end.toordinal() for c in cs], dtype=np.int64)
        self.c_rate = np.array([c.hourly_rate_vnd for c in cs], dtype=np.int64)
        self.c_open = np.array([c.scope_units is None for c in cs], dtype=bool)
        scoped: dict[int, list[int]] = {}
        for k, c in enumerate(cs):
            for uid in c.scope_units or []:
                scoped.setdefault(unit_pos[uid], []).append(k)
        self.c_scoped = {u: np.array(v, dtype=np.int64) for u, v in scoped.items()}

    def estimate(self, unit: int) -> np.ndarray:
        """Travel minutes from every expert's home to `unit`: an estimate (exact where given)."""
        la, lo = self.lat[self.home], self.lon[self.home]
        h = (
            np.sin((la - self.lat[unit]) / 2) ** 2
            + np.cos(self.lat[unit]) * np.cos(la) * np.sin((lo - self.lon[unit]) / 2) ** 2
        )
        km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        with np.errstate(invalid="ignore"):
            est = np.where(np.isnan(km), FAR, np.ceil(km * WINDING / KMH * 60)).astype(np.int64)
        for other, m in self.given.get(unit, {}).items():
            est[self.home == other] = m
        est[self.home == unit] = 0  # as in Travel.minutes: the same unit is 0, whatever is given
        return est


@dataclass
class Reach:
    """Who could serve a request at all, before skills: the remote and the on-site candidates,
    the travel to each, and the contracts that cover the unit and dates."""

    remote: np.ndarray
    onsite: np.ndarray
    travel: np.ndarray
    contracts: np.ndarray
    rank: np.ndarray


def reach(sc: Scenario, travel: Travel, ex: ExpertArrays, r: Request, base: np.ndarray) -> Reach:
    """`base`: the experts still considered (language, exclusions); only they get exact travel."""
    unit = ex.unit_pos[r.unit]
    network = travel.units[r.unit].network
    est = ex.estimate(unit)
    nobody = np.zeros(len(sc.experts), dtype=bool)
    if r.mode == "remote":
        remote, onsite_ok = ex.remote, nobody
    else:
        remote = ex.remote if (r.mode == "either" and network != "weak") else nobody
        onsite_ok = ex.onsite & ~remote & (est <= ex.max_travel + 1)
        # Exact travel for the few that pass the estimate: the same figure the validator computes.
        for e in np.flatnonzero(onsite_ok & base):
            t = travel.minutes(sc.experts[e].home_unit, r.unit)
            if t is None or t > ex.max_travel[e]:
                onsite_ok[e] = False
            else:
                est[e] = t
    c_ok = np.logical_and.reduce(list(contract_masks(sc, ex, r).values()))
    rank = np.where(ex.home == unit, 0, np.where(est <= 60, 1, 2)).astype(np.int8)
    return Reach(remote & base, onsite_ok & base, est, c_ok, rank)


def contract_masks(sc: Scenario, ex: ExpertArrays, r: Request) -> dict[Rule, np.ndarray]:
    """The contracts that may pay for work on `r`, rule by rule (True: kept)."""
    unit = ex.unit_pos[r.unit]
    scope = ex.c_open.copy()
    if unit in ex.c_scoped:
        scope[ex.c_scoped[unit]] = True
    dates = (ex.c_start <= r.deadline.toordinal()) & (ex.c_end >= sc.horizon.start.toordinal())
    return {Rule.CONTRACT_DATES: dates, Rule.CONTRACT_SCOPE: scope}


def expert_masks(ex: ExpertArrays, r: Request, excluded: list[int]) -> dict[Rule, np.ndarray]:
    """The experts a request may have before its mode and travel, rule by rule (True: kept)."""
    kept = np.ones(ex.levels.shape[0], dtype=bool)
    kept[excluded] = False
    return {Rule.LANGUAGE: speaks(ex, r), Rule.EXCLUDED: kept}


def skilled(ex: ExpertArrays, skills: dict[str, int]) -> np.ndarray:
    mask = np.ones(ex.levels.shape[0], dtype=bool)
    for s, lvl in skills.items():
        mask &= ex.levels[:, SKILL_INDEX[s]] >= lvl
    return mask


def speaks(ex: ExpertArrays, r: Request) -> np.ndarray:
    n = ex.levels.shape[0]
    return ex.languages.get(r.language, np.zeros(n, dtype=bool)) if r.language else np.ones(n, dtype=bool)


def _slot_rows(
    sc: Scenario, travel: Travel, ex: ExpertArrays, r: Request, ri: int, excluded: dict[str, list[int]]
) -> list[tuple[np.ndarray, ...]]:
    base = np.logical_and.reduce(list(expert_masks(ex, r, excluded.get(r.id, [])).values()))
    at = reach(sc, travel, ex, r, base)
    able = at.remote | at.onsite
    rows = []
    for k, slot in enumerate(r.effective_slots()):
        cs = np.flatnonzero(at.contracts & (able & skilled(ex, slot.skills))[ex.c_expert])
        if cs.size == 0:
            continue
        es = ex.c_expert[cs]
        on = ~at.remote[es]
        trav = np.where(on, at.travel[es], 0)
        mins = minutes(slot.hours) + 2 * trav
        rows.append(
            (
                np.full(cs.size, ri),
                np.full(cs.size, k),
                es,
                cs,
                on,
                trav,
                mins,
                -(-mins * ex.c_rate[cs] // 60),
                at.rank[es],
            )
        )
    return rows


def why_no_option(t: OptionTable, r: Request) -> Reason:
    """The first reason, in the order a person would check, that a request has no option."""
    sc, ex = t.sc, t.experts
    assert ex is not None, "tables come from build()"
    slot = max(r.effective_slots(), key=lambda s: len(s.skills))
    able = skilled(ex, slot.skills)
    if not able.any():
        return Reason.NO_SKILL
    able &= speaks(ex, r)
    if not able.any():
        return Reason.LANGUAGE
    at = reach(sc, t.roads or Travel(sc), ex, r, able)
    if not (at.remote | at.onsite).any():
        far = r.mode != "remote" and (able & ex.onsite).any()
        return Reason.OUT_OF_TRAVEL_RANGE if far else Reason.MODE_UNAVAILABLE
    if not (at.contracts & (at.remote | at.onsite)[ex.c_expert]).any():
        return Reason.CONTRACT_SCOPE_OR_DATES
    return Reason.EXCLUDED


def build(sc: Scenario) -> OptionTable:
    travel = Travel(sc)
    ex = ExpertArrays(sc, travel)
    expert_pos = {e.id: k for k, e in enumerate(sc.experts)}
    excluded: dict[str, list[int]] = {}
    for x in sc.excluded:
        excluded.setdefault(x.request, []).append(expert_pos[x.expert])
    parts: list[tuple[np.ndarray, ...]] = []
    for ri, r in enumerate(sc.requests):
        parts.extend(_slot_rows(sc, travel, ex, r, ri, excluded))
    dtypes = (np.int32, np.int16, np.int32, np.int32, bool, np.int32, np.int64, np.int64, np.int8)
    cols = [
        np.concatenate([p[j] for p in parts]).astype(t) if parts else np.zeros(0, dtype=t) for j, t in enumerate(dtypes)
    ]
    return OptionTable(sc, *cols, experts=ex, roads=travel)
