"""What changes between two plans: for a what-if before committing."""

from __future__ import annotations

from typing import Any

from services.matcher.solver.plan import Plan


def compare(old: Plan, new: Plan) -> dict[str, Any]:
    before = {(a.request, a.slot): a for a in old.assignments}
    after = {(a.request, a.slot): a for a in new.assignments}
    moved = [
        {"request": k[0], "slot": k[1], "from": before[k].expert, "to": after[k].expert}
        for k in sorted(before.keys() & after.keys())
        if (before[k].expert, before[k].contract, before[k].mode) != (after[k].expert, after[k].contract, after[k].mode)
    ]
    delta = {
        field: getattr(new.objective, field) - getattr(old.objective, field)
        for field in ("covered_weight", "cost_vnd", "travel_minutes", "units_covered")
    }
    return {
        "added": [after[k].model_dump() for k in sorted(after.keys() - before.keys())],
        "removed": [before[k].model_dump() for k in sorted(before.keys() - after.keys())],
        "moved": moved,
        "objective_delta": delta,
        "status": {"old": old.status, "new": new.status},
    }
