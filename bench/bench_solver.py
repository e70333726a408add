"""Solver benchmark: generated provinces at three sizes, against the greedy baseline and the
proven bound; every plan checked by the independent validator. Each run is its own process, so
that its peak memory is its own. Prints a markdown table (the ones in docs/performance.md).

    .venv/bin/python bench/bench_solver.py [--sizes small,medium,large] [--time-limit S]
    .venv/bin/python bench/bench_solver.py --shapes long,onsite,used,scoped,mixed --seeds 1,2,3 [--size medium]

The second form runs the generator's other shapes (`scenarios/generate.py`: SHAPES) at one size
(medium: 2 000 x 400, 10 s) for a few seeds; `--phases` adds where the time went (`plan.solver`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from scenarios.generate import generate
from services.matcher.solver import greedy, solve
from services.matcher.solver.candidates import Index
from services.matcher.solver.problem import build_problem
from services.matcher.solver.table import build
from services.matcher.solver.validate import validate

SIZES = {"small": (200, 60, 1.0), "medium": (2000, 400, 10.0), "large": (10_000, 2000, 60.0)}
HEADER = (
    "| size | requests x experts | options | limit s | wall s | status | covered | proven bound | % of bound "
    "| greedy baseline (% of bound, s) | candidates: index s, per request ms | peak RSS MB | validator |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)
SHAPE_HEADER = (
    "| shape | seed | options | limit s | wall s | status | covered | proven bound | % of bound "
    "| greedy baseline % | validator |\n|---|---|---|---|---|---|---|---|---|---|---|"
)
PHASES = (
    "baseline",
    "lp_done_s",
    "lp_rounds",
    "lp_converged",
    "lp_value",
    "rounded",
    "model_options",
    "lp_times",
    "schedules_rounds",
    "schedules_converged",
    "schedules_bound",
    "schedules_dives",
    "schedules",
    "schedules_done_s",
    "mip",
    "mip_done_s",
    "widened",
    "widened_options",
    "widened_per_slot",
    "side_options",
    "side",
    "side_bound",
    "coverage_done_s",
    "seconds",
)


def run(name: str, time_limit: float | None) -> str:
    n_req, n_exp, default_limit = SIZES[name]
    limit = time_limit or default_limit
    sc = generate(n_req, n_exp, seed=1)
    t0 = time.monotonic()
    problem = build_problem(sc, build(sc), [], None)
    base_w = problem.covered(greedy.baseline(problem))
    t_greedy = time.monotonic() - t0
    n_options = problem.n
    del problem
    t0 = time.monotonic()
    plan = solve(sc, time_limit_s=limit, workers=2, seed=0)
    wall = time.monotonic() - t0
    errors = validate(sc, plan)
    ob = plan.objective
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.monotonic()
    index = Index(sc)
    t_index = time.monotonic() - t0
    asked = sc.requests[:: max(1, len(sc.requests) // 100)]
    t0 = time.monotonic()
    for r in asked:
        index.best(r.id)
    t_ask = (time.monotonic() - t0) / len(asked)
    pct = 100 * ob.covered_weight / max(1, ob.upper_bound)
    return (
        f"| {name} | {n_req} x {n_exp} | {n_options} | {limit:g} | {wall:.2f} | {plan.status} | "
        f"{ob.covered_weight} | {ob.upper_bound} | {pct:.2f}% | "
        f"{base_w} ({100 * base_w / max(1, ob.upper_bound):.1f}%, {t_greedy:.2f}) | "
        f"{t_index:.2f}, {1000 * t_ask:.1f} | {peak_mb:.0f} | "
        f"{'ok' if not errors else f'{len(errors)} errors'} |"
    )


def run_shape(shape: str, seed: int, size: str, time_limit: float | None, phases: bool) -> str:
    n_req, n_exp, default_limit = SIZES[size]
    limit = time_limit or default_limit
    sc = generate(n_req, n_exp, seed=seed, shape=shape)
    t0 = time.monotonic()
    plan = solve(sc, time_limit_s=limit, workers=2, seed=0)
    wall = time.monotonic() - t0
    errors = validate(sc, plan)
    ob, info = plan.objective, plan.solver
    base_w = int(info.get("baseline", 0))
    pct = 100 * ob.covered_weight / max(1, ob.upper_bound)
    row = (
        f"| {shape} | {seed} | {info.get('options')} | {limit:g} | {wall:.2f} | {plan.status} | "
        f"{ob.covered_weight} | {ob.upper_bound} | {pct:.2f}% | {100 * base_w / max(1, ob.upper_bound):.1f}% | "
        f"{'ok' if not errors else f'{len(errors)} errors'} |"
    )
    if phases:
        row += "\n<!-- " + json.dumps({k: info[k] for k in PHASES if k in info}) + " -->"
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--shapes", default="", help="generator shapes to run at --size, e.g. long,onsite,mixed")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--size", default="medium")
    ap.add_argument("--phases", action="store_true", help="print where each shape run's time went")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        if args.one.startswith("shape:"):
            print(run_shape(args.one[6:], args.seed, args.size, args.time_limit, args.phases), flush=True)
        else:
            print(run(args.one, args.time_limit), flush=True)
        return
    extra = ["--time-limit", str(args.time_limit)] if args.time_limit else []
    if args.shapes:
        print(SHAPE_HEADER, flush=True)
        for shape in args.shapes.split(","):
            for seed in args.seeds.split(","):
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    f"shape:{shape}",
                    "--seed",
                    seed,
                    "--size",
                    args.size,
                    *extra,
                    *(["--phases"] if args.phases else []),
                ]
                subprocess.run(cmd, check=True)
        return
    print(HEADER, flush=True)
    for name in args.sizes.split(","):
        subprocess.run([sys.executable, __file__, "--one", name, *extra], check=True)


if __name__ == "__main__":
    main()
