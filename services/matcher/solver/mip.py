"""Coverage on the restricted problem by SCIP's branch and cut (bundled with OR-Tools).

On a large problem the model is restricted to a few thousand options: the LP's support, the
rounded plan and the options the experts' knapsacks chose in the bound (`bound.py`). That set
is small and knapsack-shaped, which is where a MIP solver's cuts shine: SCIP usually proves the
restricted optimum in a second or two where CP-SAT's search stalls on two cores. CP-SAT then
keeps that coverage and optimises the plan's secondary terms (`model.py`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver.problem import Problem


def best_coverage(
    p: Problem,
    columns: np.ndarray,
    start: list[int],
    time_limit_s: float,
    prefer: list[int] | None = None,
    report: dict[str, float] | None = None,
) -> list[int] | None:
    """The best plan SCIP finds on `columns` within the time limit (None if none is found).
    `prefer`: options (the hint) worth less than one unit of weight all together: among plans of
    equal coverage SCIP takes the one that keeps most of them. `report` gets SCIP's own bound on
    the coverage of the free requests on these columns ("bound"; with every option, a bound of the
    whole problem)."""
    began = time.monotonic()
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None or time_limit_s <= 0.05:
        return None
    cols = np.asarray(columns, dtype=np.int64).tolist()
    x = {o: solver.BoolVar(f"x{o}") for o in cols}
    by_slot: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    by_pair: dict[tuple[int, int], list[pywraplp.Variable]] = defaultdict(list)
    for o in cols:
        by_slot[int(p.s[o])].append(x[o])
        by_pair[(int(p.r[o]), int(p.e[o]))].append(x[o])
    y: dict[int, pywraplp.Variable] = {}
    for sid, r in enumerate(p.slot_request.tolist()):
        if not p.free_request[r]:
            continue
        if r not in y:
            y[r] = solver.BoolVar(f"y{r}")
        solver.Add(solver.Sum(by_slot.get(sid, [])) == y[r])
    for vs in by_pair.values():
        if len(vs) > 1:
            solver.Add(solver.Sum(vs) <= 1)
    add_limits(solver, p, cols, x)
    coverage = solver.Sum([int(p.weight[r]) * v for r, v in y.items()])
    liked = [x[o] for o in sorted(set(prefer or ())) if o in x]
    solver.Maximize(coverage + solver.Sum(liked) * (1.0 / (len(liked) + 1)) if liked else coverage)
    picked = set(start)
    covered = {int(p.r[o]) for o in start}
    solver.SetHint([*x.values(), *y.values()], [float(o in picked) for o in x] + [float(r in covered) for r in y])
    left = time_limit_s - (time.monotonic() - began)  # building the model took some of it
    if left <= 0.05:
        return None
    solver.SetTimeLimit(int(left * 1000))
    status = solver.Solve()
    if report is not None and status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        report["bound"] = solver.Objective().BestBound()  # the preference terms only raise it
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    return [o for o, v in x.items() if v.solution_value() > 0.5]


def add_limits(solver: pywraplp.Solver, p: Problem, cols: Iterable[int], x: dict[int, pywraplp.Variable]) -> None:
    """Every limit (expert time, contract hours, money, concurrent tasks) over the options `cols`,
    skipping the rows that cannot bind."""
    for key, coef, room in p.limit_rows():
        rows: dict[int, list[tuple[int, pywraplp.Variable]]] = defaultdict(list)
        for o in cols:
            if coef[o]:
                rows[int(key[o])].append((int(coef[o]), x[o]))
        for k, terms in rows.items():
            if sum(a for a, _ in terms) > room[k]:
                solver.Add(solver.Sum([a * v for a, v in terms]) <= int(room[k]))
