"""Realistic scenarios: real communes (from the `vietnam-provinces` package), plausible experts,
contracts and requests, deterministic for a seed.

The package has no coordinates, so each commune gets a location drawn inside its province's rough
box; networks are mostly weak or ok, as in the mountains. Instances are tight like the provinces'
own: far more hours requested than the experts can give.

`shape` varies the instance away from the default (which stays exactly what it was for a seed, so
that tests and benchmarks keep their figures), to test the engine on more than one kind of province:

- ``long``: tasks of 6 to 16 hours (few fit in a contract: knapsack-like, hard to round);
- ``onsite``: mostly on-site-only requests and fewer experts who work remotely (travel eats minutes);
- ``used``: contracts already 30 to 80% used (little room, many nearly full contracts);
- ``scoped``: most contracts scoped to 3 to 10 communes (small, local markets);
- ``mixed``: all four at once, each a little milder (the instance of issue 14).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from vietnam_provinces import Province, Ward

from shared.clock import local_today
from shared.scenario import SKILLS, Scenario

TUYEN_QUANG = 8
# Rough (lat, lon) boxes; provinces not listed get a box around the country's middle.
BOXES = {TUYEN_QUANG: (21.5, 23.3, 104.8, 105.9)}
DEFAULT_BOX = (11.0, 21.0, 105.0, 108.5)
SKILL_NAMES = list(SKILLS)


@dataclass(frozen=True)
class Shape:
    """What a generator shape changes; None keeps the default draw (the same random calls)."""

    hours: tuple[int, ...] | None = None  # request hours drawn from these
    modes: tuple[int, int, int] | None = None  # weights of onsite, remote, either
    remote_share: float | None = None  # share of experts who work remotely
    used: tuple[float, float] | None = None  # contract hours already used, as a share of the cap
    scoped: tuple[float, int, int] | None = None  # share of scoped contracts, fewest and most communes


SHAPES = {
    "default": Shape(),
    "long": Shape(hours=(6, 8, 10, 12, 16)),
    "onsite": Shape(modes=(7, 1, 2), remote_share=0.4),
    "used": Shape(used=(0.3, 0.8)),
    "scoped": Shape(scoped=(0.8, 3, 10)),
    "mixed": Shape(hours=(4, 6, 8, 10, 12), modes=(5, 2, 3), remote_share=0.6, used=(0.2, 0.6), scoped=(0.5, 3, 10)),
}


def communes(provinces: list[int] | None) -> list[tuple[Any, str]]:
    wanted = set(provinces) if provinces else None
    names = {int(p.code): p.name for p in Province.iter_all()}
    return [
        (w, names[int(w.province_code)]) for w in Ward.iter_all() if wanted is None or int(w.province_code) in wanted
    ]


def _unit(rng: random.Random, ward: Any, province: str, code: int) -> dict[str, Any]:
    la0, la1, lo0, lo1 = BOXES.get(code, DEFAULT_BOX)
    return {
        "id": f"w{int(ward.code)}",
        "name": ward.name,
        "province": province,
        "network": rng.choices(["weak", "ok", "good"], [4, 5, 1])[0],
        "location": {"lat": round(rng.uniform(la0, la1), 5), "lon": round(rng.uniform(lo0, lo1), 5)},
    }


#: Names for generated experts, common in Tuyên Quang (Kinh, Tày, Dao), picked by the expert's
#: number and not by the random draws: every other field of a generated scenario is unchanged.
FAMILY = (
    "Nguyễn",
    "Hoàng",
    "Ma",
    "Nông",
    "Lê",
    "Triệu",
    "Trần",
    "Hà",
    "Phạm",
    "Lục",
    "Vũ",
    "Bàn",
    "Đặng",
    "Quan",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Lý",
)
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Ngọc", "Hữu")
GIVEN = (
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Quân",
    "Sơn",
    "Thảo",
    "Trang",
    "Tuấn",
    "Yến",
)


def expert_name(i: int) -> str:
    """A person's name for expert number `i`: distinct for the first 3,168, numbered after."""
    f, rest = i % len(FAMILY), i // len(FAMILY)
    m, g = rest % len(MIDDLE), (rest // len(MIDDLE)) % len(GIVEN)
    name = f"{FAMILY[f]} {MIDDLE[m]} {GIVEN[g]}"
    return name if i < len(FAMILY) * len(MIDDLE) * len(GIVEN) else f"{name} {i}"


def _expert(rng: random.Random, i: int, home: str, shape: Shape) -> dict[str, Any]:
    kind = rng.choices(["shared", "contract", "community"], [3, 4, 3])[0]
    skills = {s: rng.randint(2, 5) for s in rng.sample(SKILL_NAMES, rng.randint(2, 5))}
    return {
        "id": f"e{i}",
        "name": expert_name(i),
        "home_unit": home,
        "kind": kind,
        "skills": skills,
        "languages": ["vi"] + (["dao"] if rng.random() < 0.1 else []) + (["tay"] if rng.random() < 0.1 else []),
        "remote": rng.random() < (0.8 if shape.remote_share is None else shape.remote_share),
        "onsite": rng.random() < 0.85,
        "max_travel_minutes": rng.choice([60, 90, 120, 180]),
        "capacity_hours": rng.choice([16, 24, 32, 40]),
    }


def _contract(
    rng: random.Random, e: dict[str, Any], start: dt.date, unit_ids: list[str], shape: Shape
) -> dict[str, Any]:
    project = e["kind"] == "contract"
    open_share, fewest, most = (0.6, 5, 30) if shape.scoped is None else (1 - shape.scoped[0], *shape.scoped[1:])
    scope = None if rng.random() < open_share else rng.sample(unit_ids, min(len(unit_ids), rng.randint(fewest, most)))
    if scope is not None and e["home_unit"] not in scope:
        scope.append(e["home_unit"])
    rate = rng.choice([150_000, 200_000, 250_000, 300_000]) if project else rng.choice([0, 50_000])
    cap = rng.choice([20, 30, 40, 60])
    used = rng.choice([0, 0, 4, 10]) if shape.used is None else round(cap * rng.uniform(*shape.used))
    return {
        "id": f"c{e['id'][1:]}",
        "expert": e["id"],
        "kind": "project" if project else "sharing",
        "hourly_rate_vnd": rate,
        "hours_cap": cap,
        "hours_used": used,
        "budget_cap_vnd": rng.choice([3_000_000, 5_000_000, 8_000_000]) if project else None,
        "budget_used_vnd": 0,
        "max_concurrent": rng.choice([2, 3, 5, 8]),
        "start": str(start - dt.timedelta(days=30)),
        "end": str(start + dt.timedelta(days=rng.choice([20, 90, 180]))),
        "scope_units": scope,
    }


def _request(rng: random.Random, i: int, unit: str, start: dt.date, days: int, shape: Shape) -> dict[str, Any]:
    skills = {s: rng.randint(1, 4) for s in rng.sample(SKILL_NAMES, rng.choice([1, 1, 2]))}
    label = SKILLS[next(iter(skills))][0]
    return {
        "id": f"r{i}",
        "unit": unit,
        "title": f"Hỗ trợ {label.lower()}",
        "skills": skills,
        "mode": rng.choices(["onsite", "remote", "either"], shape.modes or [3, 2, 5])[0],
        "hours": rng.choice(shape.hours or [2, 3, 4, 6, 8]),
        "priority": rng.choices([1, 2, 3, 4, 5], [1, 2, 3, 2, 1])[0],
        "deadline": str(start + dt.timedelta(days=rng.randint(3, days))),
    }


def generate(
    n_requests: int,
    n_experts: int,
    *,
    seed: int = 0,
    provinces: list[int] | None = None,
    start: dt.date | None = None,
    days: int = 14,
    shape: str = "default",
) -> Scenario:
    """A province (or a country) of `n_requests` x `n_experts`, one contract per expert; `shape`:
    one of SHAPES (see the module's docstring)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    form = SHAPES[shape]
    rng = random.Random(seed)
    start = start or local_today()
    pool = communes(provinces)
    n_units = min(len(pool), max(10, n_requests // 3))
    chosen = rng.sample(pool, n_units)
    units = [_unit(rng, w, prov, int(w.province_code)) for w, prov in chosen]
    ids = [u["id"] for u in units]
    experts = [_expert(rng, i, rng.choice(ids), form) for i in range(n_experts)]
    contracts = [_contract(rng, e, start, ids, form) for e in experts]
    requests = [_request(rng, i, rng.choice(ids), start, days, form) for i in range(n_requests)]
    return Scenario.model_validate(
        {
            "horizon": {"start": str(start), "end": str(start + dt.timedelta(days=days))},
            "units": units,
            "experts": experts,
            "contracts": contracts,
            "requests": requests,
        }
    )


def demo(seed: int = 0) -> Scenario:
    """Tuyên Quang: 20 communes, 30 experts, 60 requests, dated from today."""
    return generate(60, 30, seed=seed, provinces=[TUYEN_QUANG])
