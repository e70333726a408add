"""The matching engine: a pure function from a `Scenario` to a `Plan`.

1. Every eligible option, as arrays (`table.py`); the pins taken out (`problem.py`).
2. The greedy baseline: a verified feasible plan within a moment, whatever happens.
3. Subgradient prices seed the LP relaxation, solved by column generation (`relax.py`); its
   duals give two proven upper bounds (`relax.py`, `bound.py`: the tighter is reported); the LP
   solution rounded is a better start.
4. Small problems with one worker: CP-SAT on every option (its own bound is a third proof).
   Otherwise SCIP solves coverage exactly on the few thousand options that matter (the LP's
   support and the bound's knapsack choices, `mip.py`), on wider sets while time is left, then
   local moves that need options outside them (`moves.py`); with two workers and up to 25 000
   options, SCIP on every option in a second thread (its bound is a fourth proof).
5. Phase 2 (CP-SAT, `model.py`): at that coverage, the cheapest, least travelled, fairest, most
   local plan.

With a `hint` (the plan proposed so far, `hint.py`) the engine starts from it where it is still
feasible, and moves a hinted assignment only when coverage needs it.

No database, broker or logging setup in here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from services.matcher.solver import bound, greedy, mip, moves, relax, schedules
from services.matcher.solver import hint as hints
from services.matcher.solver import model as cpsat
from services.matcher.solver.hint import Hint, HintLike
from services.matcher.solver.limits import DEFAULT_WEIGHTS, Limits
from services.matcher.solver.options import Option, Travel, options_for_slot
from services.matcher.solver.plan import Assignment, Objective, Plan, Unassigned
from services.matcher.solver.problem import Problem, build_problem
from services.matcher.solver.report import build_plan
from services.matcher.solver.table import build
from shared.scenario import Scenario

__all__ = ["DEFAULT_WEIGHTS", "Assignment", "Hint", "Objective", "Plan", "Unassigned", "solve", "time_for"]

#: With one worker, up to this many options CP-SAT gets them all and proves optimality itself.
#: With two, SCIP on every option in a second thread proves it sooner (200 x 60, 677 options:
#: optimal after 0.1 s instead of 0.7 s) and CP-SAT on every option stalls from a few thousand
#: options on (onsite shape, 10 000 options: 98.7% where SCIP's path reaches 99.4%).
FULL_MODEL_OPTIONS = 1_500
#: Share of the time limit the LP relaxation may use on a large problem.
LP_SHARE = 0.5
#: Share of the time left after SCIP that local moves may use (they stop sooner when a pass gains nothing).
MOVES_SHARE = 0.5
#: Options per slot (lowest reduced cost) of the successively wider sets SCIP is given.
WIDEN = (1, 2, 3, 4, 6, 8, 12, 16)
#: With two workers and at most this many options, SCIP also runs on every option in a second
#: thread: its plan may be the better one, and its bound holds for the whole problem (cuts on
#: the whole model: the scoped shape's bound 5 340 -> 5 332). On more options its root does not
#: finish in time (and wider restricted sets there found nothing in the time either).
SIDE_MAX_OPTIONS = 25_000
#: Up to this many options column generation over expert schedules runs (`schedules.py`): the
#: generator's shapes at 2 000 x 400 (10 000 to 47 000 options) are measured; a country's
#: million is not (its experts' knapsacks would take seconds a round).
SCHEDULES_MAX_OPTIONS = 60_000
#: ... and only where experts hold few tasks each (`schedules.tasks_per_expert`; the generator's
#: long and mixed shapes hold 1.8 to 2.1): there SCIP on restricted sets misses what whole
#: schedules find (long: 98.0-98.5% of the bound before, 99.2-99.96% with them). On the used,
#: onsite and scoped shapes (2.5 to 2.9) the difference with and without went either way with the
#: machine's load (used seeds 1 to 3: 98.97, 99.06, 98.99 / 99.39, 99.28, 99.44% at load 5 to 6,
#: 99.15, 99.25, 98.99 / 98.68, 98.84, 98.99% at load 6 to 7.5; 2026-12-01 16:24 and 16:29 UTC),
#: and on the default shape (3.1 to 3.4) SCIP's sets did better (99.72, 99.62 / 99.32, 99.37%),
#: so there the engine is as it was.
SCHEDULES_MAX_TASKS = 2.25
#: ... and, beyond SIDE_MAX_OPTIONS (no SCIP on every option beside), up to this many: the used
#: shape (2.6 to 2.9, 42 000 to 44 000 options), whose generation needs 20 to 27 rounds since the
#: box and the whole-coverage stop (`schedules.py`), so it gets more of the time (the share of the
#: coverage time, and of that for the generation). Used 1 to 3 at load 1.7 to 1.8 (2026-12-01
#: 19:24 UTC): 99.95, 99.68, 99.95% of the bound (the old path at 19:06, load 3.6 to 4: 99.38,
#: 99.51, 99.47%); used 2's schedules ended at 6.6 s. The default shape (3.1 to 3.4) stays out,
#: and so does a busy machine: the coverage must have at least SCHEDULES_BUSY_LP_TIMES times the
#: relaxation's time (used at 10 s, load 1.7 to 5.4: 15 to 28). At 5 s instead of 10 (9.5 to 12
#: times, 19:35 UTC, load 1.6 to 2.3) used 2 did worse with them (98.79% against 99.25%), used 1
#: better (99.15 and 99.38 against 98.97%); used 1 at load 5.6 (1.88 s to the LP's end) missed
#: with them (98.31%: 21 rounds, no dive step; before the dive could start from the last LP).
SCHEDULES_BUSY_MAX_TASKS = 3.0
SCHEDULES_BUSY_SHARES = (0.85, 0.8)
SCHEDULES_BUSY_LP_TIMES = 12.0
#: Beyond SIDE_MAX_OPTIONS, the second thread runs SCIP on the first set with this many more
#: options per slot, if that makes at most SIDE_SET_OPTIONS (a country's would not finish its root).
SIDE_PER_SLOT = 3
SIDE_SET_OPTIONS = 16_000
#: Share of the coverage time the first SCIP run may use.
FIRST_SHARE = 0.6
#: Share of the coverage time given to column generation over expert schedules and its dive
#: (`schedules.py`), before SCIP on restricted sets; and the share of that for the generation.
#: They end sooner when the generation converges and the dive is done (mixed: about 3 to 5 s of
#: the 10), and SCIP after them added little on long (0 to 6 weight), so they get most of it:
#: long 1 at load 5 to 6, 0.6 / 0.65: 10 rounds, not converged, 99.61%; 0.75 / 0.7: 18 rounds,
#: converged, 99.96% (2026-12-01 16:44 UTC).
SCHEDULES_SHARE = 0.75
SCHEDULES_CG_SHARE = 0.7
#: Share of the time limit kept for phase 2 (the secondary terms and a hint's moved penalty).
PHASE2_SHARE = 0.1
#: Below this many seconds left, no search starts: the plan so far is returned.
MIN_SEARCH_S = 0.2
#: Seconds kept at the end to explain the plan: a base and a share per option (measured).
REPORT_RESERVE_S = 0.3
REPORT_S_PER_OPTION = 2e-6


#: The longest a background re-plan is given (a whole country), and the shortest.
MAX_REPLAN_S = 60.0
MIN_REPLAN_S = 0.5


def time_for(n_requests: int, n_options: int) -> float:
    """The time limit a background re-plan of this size should get, in seconds.

    Measured (`bench/bench_solver.py`, docs/performance.md, 2 cores, workers=2): 200 requests with
    about 700 options, proven optimal in 0.1 s; 2 000 x 400
    (43 500 options) 99.8% of the proven bound in 10 s on an idle machine, the other generator
    shapes (10 000 to 47 000 options) 97 to 99.9% in 10 s on a busy one; a country (10 000
    requests, a million options) needs the LP's 25 to 30 s before SCIP starts, 99.2% in 60 s.
    So about the options to the power 0.55 (1 s at 700, 10 s at 45 000, 55 s at a million), never
    less than 1 s per 200 requests, at most MAX_REPLAN_S."""
    t = max((max(n_options, 1) / 700) ** 0.55, n_requests / 200)
    return round(min(MAX_REPLAN_S, max(MIN_REPLAN_S, t)), 1)


def pin_options(sc: Scenario) -> tuple[list[Option], str]:
    travel = Travel(sc)
    requests = {r.id: r for r in sc.requests}
    experts = {e.id: e for e in sc.experts}
    contracts = {c.id: c for c in sc.contracts}
    pins: list[Option] = []
    for p in sc.pinned:
        r = requests[p.request]
        found = list(
            options_for_slot(
                sc,
                travel,
                r,
                p.slot,
                r.effective_slots()[p.slot],
                [experts[p.expert]],
                {p.expert: [contracts[p.contract]]},
                set(),
            )
        )
        if not found:
            return [], f"pin {p.request}/{p.expert}/{p.contract} breaks a rule (skills, mode, travel or contract)"
        pins.append(found[0])
    limits = Limits.of(sc)
    for o in pins:
        limits.take(o)
    over = limits.negative()
    return pins, (f"pinned assignments no longer fit: {over}" if over else "")


def solve(
    sc: Scenario,
    *,
    time_limit_s: float | None = 10.0,
    workers: int = 2,
    seed: int = 0,
    weights: dict[int, int] | None = None,
    hint: Sequence[HintLike] | None = None,
) -> Plan:
    """The best plan found within `time_limit_s`, with a proven bound on its coverage; None: the
    time the problem's size calls for (`time_for`, once its options are counted).

    `hint`: assignments proposed so far (`Hint`, or `shared.scenario.Pin` as in `Scenario.pinned`),
    not pinned: the plan starts from those that still break no rule and fit (the least urgent
    dropped first when they do not all fit), covers at least what they cover, and moves one only
    when coverage needs it. `plan.solver["hint"]` says how many were kept, moved, dropped."""
    began = time.monotonic()
    pins, problem = pin_options(sc)
    if problem:
        return Plan(status="infeasible", reason=problem)
    p = build_problem(sc, build(sc), pins, weights)
    if time_limit_s is None:
        time_limit_s = time_for(len(sc.requests), len(p.table))
    best = greedy.baseline(p)
    info: dict[str, object] = {"options": len(p.table), "baseline": p.covered(best), "time_limit_s": time_limit_s}
    keep: list[int] = []
    if hint:
        seated = hints.seat(p, hint)
        keep = sorted(seated.wanted.values())
        start = greedy.complete(p, seated.options)
        info.update(hint_start=p.covered(start), hint_unusable=seated.unusable)
        best = start if p.covered(start) >= p.covered(best) else best
    info.update(baseline_done_s=round(time.monotonic() - began, 3))
    reserve = REPORT_RESERVE_S + REPORT_S_PER_OPTION * p.n
    stop = began + time_limit_s - reserve - MIN_SEARCH_S
    lp_deadline = min(stop, began + LP_SHARE * time_limit_s)
    best, proven, columns, reduced, rx = _relaxation(p, best, began, lp_deadline, stop, info)
    left = time_limit_s - (time.monotonic() - began) - reserve
    if left < MIN_SEARCH_S:
        solved = cpsat.Solved(best, p.covered(best), -1, False)
    elif p.n <= FULL_MODEL_OPTIONS and workers < 2:
        solved = cpsat.run(cpsat.Model(p, np.arange(p.n), keep), best, left, 0.85, workers, seed)
    else:
        columns = np.union1d(columns, np.asarray(keep, dtype=np.int64))
        end = began + time_limit_s - reserve
        best, columns, bounds = _restricted(
            p, columns, reduced, rx, best, began, end, time_limit_s, info, keep, workers
        )
        proven = min([*bounds, *([] if proven is None else [proven])], default=None)
        info.update(coverage_done_s=round(time.monotonic() - began, 3))
        left = time_limit_s - (time.monotonic() - began) - reserve
        # Phase 2 keeps the coverage, so only the covered requests' options matter to it.
        columns = columns[np.isin(p.r[columns], p.r[np.asarray(best, dtype=np.int64)])]
        solved = cpsat.run(cpsat.Model(p, np.union1d(columns, best), keep), best, left, 0.0, workers, seed)
    chosen = solved.chosen if solved.covered >= p.covered(best) else best
    covered = p.covered(chosen)
    upper = _upper_bound(p, solved, proven, covered)
    if hint:
        info.update(hint=hints.outcome(p, hint, chosen))
    info.update(phases=solved.phases, seconds=round(time.monotonic() - began, 3))
    return build_plan(p, chosen, status="optimal" if covered == upper else "feasible", bound=upper, info=info)


def _relaxation(
    p: Problem, best: list[int], began: float, lp_deadline: float, stop: float, info: dict[str, object]
) -> tuple[list[int], int | None, np.ndarray, np.ndarray | None, relax.Relaxation | None]:
    """LP relaxation, the bounds, the rounded plan and the restricted set of options; each step
    only while there is time (a short limit still gets the greedy plan at once). The relaxation
    itself when it had time for the rest (its slot values and solution start the schedules)."""
    columns = np.asarray(best, dtype=np.int64)
    if time.monotonic() >= lp_deadline:
        return best, None, columns, None, None
    rx = relax.relax(p, best, lp_deadline)
    info.update(
        lp_rounds=rx.rounds,
        lp_converged=rx.converged,
        lp_value=round(rx.lp_value, 3),
        lp_done_s=round(time.monotonic() - began, 3),
    )
    proven = math.floor(rx.bound + 1e-6) if math.isfinite(rx.bound) else None
    if not rx.rounds or time.monotonic() >= stop:
        return best, proven, columns, None, None
    picked: list[np.ndarray] = []
    proven = math.floor(min(rx.bound, bound.evaluate(p, rx.slot_value, picked)) + 1e-6)
    rounded = greedy.rounded(p, rx.price, rx.columns, rx.x)
    info.update(rounded=p.covered(rounded), bounds_done_s=round(time.monotonic() - began, 3))
    best = max(best, rounded, key=p.covered)
    columns = np.union1d(rx.columns[rx.x > 1e-6], np.asarray(best, dtype=np.int64))
    if picked:
        columns = np.union1d(columns, np.concatenate(picked))
    info.update(model_options=int(columns.size))
    return best, proven, columns, rx.price - rx.slot_value[p.s], rx


def _schedules(
    p: Problem, start: list[int], rx: relax.Relaxation, until: float, cg_share: float = SCHEDULES_CG_SHARE
) -> schedules.Outcome:
    """Column generation over expert schedules, then its dive (`schedules.py`), until `until`;
    the dive's plan completed greedily."""
    now = time.monotonic()
    cg_until = now + cg_share * (until - now)
    out = schedules.search(p, [start], rx.slot_value, (rx.columns, rx.x), cg_until, until)
    out.chosen = greedy.complete(p, schedules.whole_requests(p, out.chosen)) if out.chosen else []
    return out


def _schedule_shares(p: Problem, rx: relax.Relaxation | None, lp_times: float) -> tuple[float, float] | None:
    """Whether the coverage starts with the schedules: (share of the coverage time, share of that
    for the generation), or None. `lp_times`: the coverage time over the LP's."""
    tasks = schedules.tasks_per_expert(p) if rx is not None and p.n <= SCHEDULES_MAX_OPTIONS else math.inf
    if tasks <= SCHEDULES_MAX_TASKS:
        return SCHEDULES_SHARE, SCHEDULES_CG_SHARE
    if p.n > SIDE_MAX_OPTIONS and tasks <= SCHEDULES_BUSY_MAX_TASKS and lp_times >= SCHEDULES_BUSY_LP_TIMES:
        return SCHEDULES_BUSY_SHARES
    return None


def _take_schedules(
    p: Problem, out: schedules.Outcome, best: list[int], columns: np.ndarray, began: float, info: dict[str, object]
) -> tuple[list[int], np.ndarray, int | None]:
    info.update(
        schedules_lp=round(out.lp, 3) if math.isfinite(out.lp) else None,
        schedules_bound=round(out.bound, 3) if math.isfinite(out.bound) else None,
        schedules_rounds=out.rounds,
        schedules_converged=out.converged,
        schedules_dives=out.dives,
        schedules=p.covered(out.chosen),
        schedules_done_s=round(time.monotonic() - began, 3),
    )
    if p.covered(out.chosen) > p.covered(best):
        best = out.chosen
        columns = np.union1d(columns, np.asarray(best, dtype=np.int64))
    return best, columns, math.floor(out.bound + 1e-6) if math.isfinite(out.bound) else None


def _restricted(
    p: Problem,
    columns: np.ndarray,
    reduced: np.ndarray | None,
    rx: relax.Relaxation | None,
    best: list[int],
    began: float,
    end: float,
    time_limit_s: float,
    info: dict[str, object],
    keep: list[int],
    workers: int,
) -> tuple[list[int], np.ndarray, list[int]]:
    """Coverage on a large problem: SCIP on the restricted set, the plan completed and improved by
    local moves; then, while SCIP proves each set's optimum within the time, again on wider sets
    (the WIDEN options per slot lowest by reduced cost), each run starting from the last plan.

    On the generator's shapes the LP's support and the knapsacks' choices leave out options an
    uncovered request would need; the narrow set first (SCIP proves it fastest, which matters on a
    busy machine), then wider. First, up to SCHEDULES_MAX_OPTIONS and where experts hold few tasks
    each (SCHEDULES_MAX_TASKS; beyond SIDE_MAX_OPTIONS, SCHEDULES_BUSY_MAX_TASKS: `_schedule_shares`),
    column generation over expert schedules (`schedules.py`) for
    SCHEDULES_SHARE of the time: it finds what those sets miss when tasks are long and each expert
    holds two or three, and its plan is SCIP's start. Otherwise, with a second worker, SCIP also
    runs in a thread for the whole time (SCIP is single-threaded and lets go of the GIL while it
    solves): on every option up to SIDE_MAX_OPTIONS, beyond on a set SIDE_PER_SLOT options per
    slot wider than the first. Not beside the schedules: column generation is Python and numpy,
    and beside that thread it made a third to half the rounds (mixed 2 and 3, load 3.5 to 5: 8
    and 6 rounds, not converged, 98.92 and 98.95% of the bound; without it 17 and 14, converged,
    99.98 and 100%), and the thread's plan was never the best there (nor on used 2 and 3 beside
    its narrower set, load 2.8 to 3.2: no more than the rounded plan, 98.45 and 98.42%).
    The better plan wins; the bounds of both are proven. Phase 2 keeps PHASE2_SHARE of the limit,
    so that a hint's moved penalty gets its time."""

    def improved(found: list[int] | None, start: list[int]) -> list[int]:
        """SCIP's plan (or `start`, when it found nothing better) completed, then improved by moves."""
        chosen = found if found is not None and p.covered(found) >= p.covered(start) else start
        until = time.monotonic() + MOVES_SHARE * (stop - time.monotonic())
        return greedy.complete(p, moves.improve(p, greedy.complete(p, chosen), until))

    stop = end - max(MIN_SEARCH_S, PHASE2_SHARE * time_limit_s)
    everything = np.arange(p.n)
    info.update(model_options=int(columns.size))
    side_report: dict[str, float] = {}
    bounds: list[int] = []
    side: Future[list[int] | None] | None = None
    lp_times = (stop - time.monotonic()) / max(rx.seconds if rx else 0.0, 1e-3)
    shares = _schedule_shares(p, rx, lp_times)
    use_schedules = shares is not None
    info.update(schedules_run=use_schedules, lp_times=round(lp_times, 1))
    side_set = everything if p.n <= SIDE_MAX_OPTIONS and not use_schedules else None
    if (
        side_set is None
        and not use_schedules
        and reduced is not None
        and columns.size + SIDE_PER_SLOT * p.n_slots <= SIDE_SET_OPTIONS
    ):
        side_set = np.union1d(columns, relax.best_per_slot(p, reduced, everything, SIDE_PER_SLOT))
    pool = ThreadPoolExecutor(max_workers=1) if workers >= 2 and side_set is not None else None
    if pool is not None and side_set is not None:
        side = pool.submit(mip.best_coverage, p, side_set, best, stop - time.monotonic(), keep, side_report)
        info.update(side_options=int(side_set.size))
    try:
        if shares is not None and rx is not None:
            now = time.monotonic()
            out = _schedules(p, best, rx, now + shares[0] * (stop - now), shares[1])
            best, columns, b = _take_schedules(p, out, best, columns, began, info)
            bounds += [] if b is None else [b]
        best = improved(mip.best_coverage(p, columns, best, FIRST_SHARE * (stop - time.monotonic()), keep), best)
        info.update(mip=p.covered(best), mip_done_s=round(time.monotonic() - began, 3))
        for k in WIDEN:
            if reduced is None or stop - time.monotonic() < MIN_SEARCH_S:
                break
            wider = np.union1d(np.union1d(columns, best), relax.best_per_slot(p, reduced, everything, k))
            if wider.size == columns.size:
                continue
            columns = wider
            best = improved(mip.best_coverage(p, columns, best, stop - time.monotonic(), keep), best)
            info.update(widened=p.covered(best), widened_options=int(columns.size), widened_per_slot=k)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)  # the side run ends by its own time limit, at `stop`
    found = side.result() if side is not None else None
    if found is not None:
        found = greedy.complete(p, found)
        info.update(side=p.covered(found))
        if p.covered(found) > p.covered(best):
            best = found
            columns = np.union1d(columns, found)
    if (
        info.get("side_options") == p.n
        and math.isfinite(side_report.get("bound", math.inf))
        and side_report["bound"] < 1e15
    ):
        bounds.append(math.floor(side_report["bound"] + 1e-6) + p.pinned_weight)
        info.update(side_bound=bounds[-1])
    return best, columns, bounds


def _upper_bound(p: Problem, solved: cpsat.Solved, proven: int | None, covered: int) -> int:
    """The least of the relaxations' bounds and CP-SAT's (when its model had every option).
    Never above what could be covered at all, never below a plan that exists."""
    upper = int(p.weight[p.free_request].sum()) + p.pinned_weight
    if proven is not None:
        upper = min(upper, proven)
    if solved.bound >= 0 and solved.model_is_complete:
        upper = min(upper, solved.bound)
    return max(upper, covered)
