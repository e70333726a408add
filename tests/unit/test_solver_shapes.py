"""The generator's shapes: the default is what it always was (tests and benchmarks depend on its
figures), each shape is deterministic per seed and shaped as it says, and the engine's plans on
every shape break no rule and never claim more than the bound."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

import services.matcher.solver as engine
from scenarios.generate import SHAPES, generate
from services.matcher.solver.validate import validate

DAY = dt.date(2026, 12, 1)


def digest(**kw: object) -> str:
    sc = generate(60, 15, seed=3, provinces=[8], start=DAY, **kw)  # type: ignore[arg-type]
    data = sc.model_dump(mode="json", by_alias=True)
    for e in data["experts"]:  # named like people since; named by number when the digest was taken
        e["name"] = f"Expert {e['id'][1:]}"
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def test_the_default_shape_is_byte_for_byte_what_it_was() -> None:
    # Computed on main before the shapes existed.
    assert digest() == digest(shape="default") == "d5fcf1a2d7e950b37b4df1e954ba9add146009f3c7b1864a5fa906cbc110d0de"


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "default"])
def test_each_shape_is_deterministic_and_differs_from_the_default(shape: str) -> None:
    assert digest(shape=shape) == digest(shape=shape) != digest()


def test_the_shapes_are_shaped_as_they_say() -> None:
    long = generate(300, 60, seed=1, start=DAY, shape="long")
    assert min(r.hours for r in long.requests) >= 6 and max(r.hours for r in long.requests) == 16
    onsite = generate(300, 60, seed=1, start=DAY, shape="onsite")
    assert sum(r.mode == "onsite" for r in onsite.requests) > 0.6 * 300
    assert sum(e.remote for e in onsite.experts) < 0.6 * 60
    used = generate(300, 60, seed=1, start=DAY, shape="used")
    assert all(0.3 * c.hours_cap - 0.5 <= c.hours_used <= 0.8 * c.hours_cap + 0.5 for c in used.contracts)
    scoped = generate(300, 60, seed=1, start=DAY, shape="scoped")
    small = [c for c in scoped.contracts if c.scope_units is not None and len(c.scope_units) <= 11]
    assert len(small) > 0.6 * 60
    with pytest.raises(ValueError, match="unknown shape"):
        generate(10, 5, shape="round")


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "default"])
def test_plans_on_every_shape_are_valid_and_honest(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "FULL_MODEL_OPTIONS", 0)  # the path of large problems, in little time
    sc = generate(150, 30, seed=2, provinces=[8], start=DAY, shape=shape)
    plan = engine.solve(sc, time_limit_s=2)
    assert validate(sc, plan) == []
    assert 0 < plan.objective.covered_weight <= plan.objective.upper_bound
