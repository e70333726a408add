"""Deciding and matching in one model: which decisions to buy (a hire, a level of training) within
a budget, and the plan those decisions make possible, solved together by SCIP.

The model is the engine's coverage model (`mip.py`: a boolean per option, a boolean per request,
every slot of a covered request filled, one slot per expert per request, every limit row), plus a
boolean per decision and:

    for each slot and each requirement of its options: the options of that slot that need it
        <= the decisions that satisfy it (a hire: its own; a skill trained to level L: any
        training of that member in that skill to L or above)
    at most one decision per exclusive group (one target level per member and skill)
    sum of the decisions' costs <= budget

It maximises covered weight, then (worth less than one unit of weight in all) the money left.
Summing a slot's options on the left (rather than one row per option) keeps the relaxation tight:
one slot can use a decision at most once. Pure: no I/O.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp

from services.matcher.solver.mip import add_limits
from services.matcher.solver.problem import Problem

Requirement = tuple[int, ...]  # decisions of which at least one must be taken


@dataclass
class Joint:
    p: Problem
    columns: np.ndarray  # options (positions in the problem) the model gets
    needs: dict[int, list[Requirement]]  # option -> what it needs; options not in it need nothing
    costs: list[int]  # per decision
    budget: int
    exclusive: list[list[int]] = field(default_factory=list)


@dataclass
class Outcome:
    options: list[int]
    decisions: list[int]
    covered: int
    bound: float  # SCIP's bound on the coverage of the model's options
    optimal: bool
    seconds: float
    rounds: list[dict[str, object]] = field(default_factory=list)  # per restricted set: its size, result, time


def solve_joint(j: Joint, start: list[int], time_limit_s: float, start_decisions: list[int] | None = None) -> Outcome:
    """The best decisions and plan SCIP finds within the limit; `start` (options, with the
    decisions `start_decisions` they need) is its first solution."""
    began = time.monotonic()
    p = j.p
    solver = pywraplp.Solver.CreateSolver("SCIP")
    assert solver is not None, "OR-Tools is built with SCIP"
    cols = np.asarray(j.columns, dtype=np.int64).tolist()
    x = {o: solver.BoolVar("") for o in cols}
    d = [solver.BoolVar("") for _ in j.costs]
    by_slot: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    by_pair: dict[tuple[int, int], list[pywraplp.Variable]] = defaultdict(list)
    by_need: dict[tuple[int, Requirement], list[pywraplp.Variable]] = defaultdict(list)
    for o in cols:
        by_slot[int(p.s[o])].append(x[o])
        by_pair[(int(p.r[o]), int(p.e[o]))].append(x[o])
        for req in j.needs.get(o, ()):
            by_need[(int(p.s[o]), req)].append(x[o])
    y: dict[int, pywraplp.Variable] = {}
    for sid, r in enumerate(p.slot_request.tolist()):
        if p.free_request[r]:
            y.setdefault(r, solver.BoolVar(""))
            solver.Add(solver.Sum(by_slot.get(sid, [])) == y[r])
    for vs in by_pair.values():
        if len(vs) > 1:
            solver.Add(solver.Sum(vs) <= 1)
    for (_, req), vs in by_need.items():
        solver.Add(solver.Sum(vs) <= solver.Sum([d[k] for k in req]))
    for group in j.exclusive:
        if len(group) > 1:
            solver.Add(solver.Sum([d[k] for k in group]) <= 1)
    solver.Add(solver.Sum([c * v for c, v in zip(j.costs, d, strict=True)]) <= j.budget)
    add_limits(solver, p, cols, x)
    coverage = solver.Sum([int(p.weight[r]) * v for r, v in y.items()])
    thrift = 1.0 / (j.budget + 1) if j.budget > 0 else 0.0
    solver.Maximize(coverage - thrift * solver.Sum([c * v for c, v in zip(j.costs, d, strict=True)]))
    picked = set(start)
    covered = {int(p.r[o]) for o in start}
    solver.SetHint(
        [*x.values(), *y.values(), *d],
        [float(o in picked) for o in x]
        + [float(r in covered) for r in y]
        + [float(k in set(start_decisions or ())) for k in range(len(d))],
    )
    solver.SetTimeLimit(int(max(0.1, time_limit_s - (time.monotonic() - began)) * 1000))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return Outcome(
            list(start), list(start_decisions or []), p.covered(list(start)), math.inf, False, time.monotonic() - began
        )
    chosen = [o for o, v in x.items() if v.solution_value() > 0.5]
    bought = [k for k, v in enumerate(d) if v.solution_value() > 0.5]
    # The money term is worth less than one unit of weight in all: coverage is at most this.
    bound = math.floor(solver.Objective().BestBound() + thrift * j.budget + 1e-6) + p.pinned_weight
    return Outcome(
        chosen, bought, p.covered(chosen), bound, status == pywraplp.Solver.OPTIMAL, time.monotonic() - began
    )


#: Up to this many options the joint model gets them all (SCIP proves a province's optimum in a second).
FULL_OPTIONS = 20_000
#: Beyond, successively wider sets while time is left: per slot, this many of the shortest options
#: needing a decision, and as many of the others on requests the plan before leaves uncovered.
WIDEN = (4, 8, 16, 32)
#: A wider set is tried only with at least this share of the limit left.
WIDEN_SHARE = 0.3


def run(j: Joint, start: list[int], needing: np.ndarray, uncovered: np.ndarray, time_limit_s: float) -> Outcome:
    """`j` with every option on a province; on a larger problem, restricted sets (`restrict`),
    wider each time while SCIP proves the last one's optimum with time to spare, each run starting
    from the last one's plan and decisions. `j.columns` is set to the last set used."""
    began = time.monotonic()
    p = j.p
    if p.n <= FULL_OPTIONS:
        j.columns = np.arange(p.n)
        return solve_joint(j, start, time_limit_s)
    best: Outcome | None = None
    rounds: list[dict[str, object]] = []
    for k in WIDEN:
        left = time_limit_s - (time.monotonic() - began)
        if best is not None and (not best.optimal or left < WIDEN_SHARE * time_limit_s):
            break
        seed = best.options if best is not None else start
        j.columns = restrict(p, seed, needing, uncovered, k)
        found = solve_joint(j, seed, left, best.decisions if best is not None else None)
        rounds.append(
            {
                "per_slot": k,
                "options": int(j.columns.size),
                "covered": found.covered,
                "optimal": found.optimal,
                "seconds": round(found.seconds, 2),
            }
        )
        if best is None or found.covered >= best.covered:
            best = found
        if j.columns.size == p.n:
            break
    assert best is not None
    best.seconds, best.rounds = time.monotonic() - began, rounds
    return best


def restrict(p: Problem, start: list[int], needing: np.ndarray, uncovered: np.ndarray, per_slot: int) -> np.ndarray:
    """The options a large joint model gets: the plan before, and per slot the `per_slot` shortest
    of the options that need a decision, and of the others on requests the plan before leaves
    uncovered (room a hire frees may let an existing expert take one of those)."""
    from services.matcher.solver.relax import best_per_slot

    score = p.minutes.astype(np.float64)
    new = best_per_slot(p, score, np.flatnonzero(needing), per_slot)
    old = best_per_slot(p, score, np.flatnonzero(~needing & uncovered[p.r]), per_slot)
    return np.union1d(np.union1d(new, old), np.asarray(start, dtype=np.int64))


def positions(p: Problem, keys: list[tuple[str, int, str, str]]) -> list[int]:
    """Options (request id, slot, expert id, contract id) as positions in the problem (those absent skipped)."""
    sc = p.sc
    req = {r.id: k for k, r in enumerate(sc.requests)}
    exp = {e.id: k for k, e in enumerate(sc.experts)}
    con = {c.id: k for k, c in enumerate(sc.contracts)}
    where = {
        (int(r), int(k), int(e), int(c)): i
        for i, (r, k, e, c) in enumerate(
            zip(p.r.tolist(), p.slot_index[p.s].tolist(), p.e.tolist(), p.c.tolist(), strict=True)
        )
    }
    out = []
    for r, k, e, c in keys:
        i = where.get((req[r], k, exp[e], con[c]))
        if i is not None:
            out.append(i)
    return out
