"""Solver benchmark: generated provinces at three sizes, against the greedy baseline and the
proven bound; every plan checked by the independent validator. Each size runs in its own process,
so that its peak memory is its own. Prints a markdown table (the one in docs/performance.md).

    .venv/bin/python bench/bench_solver.py [--sizes small,medium,large] [--time-limit S]
"""

from __future__ import annotations

import argparse
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
HEADER = ("| size | requests x experts | options | limit s | wall s | status | covered | proven bound | % of bound "
          "| greedy baseline (% of bound, s) | candidates: index s, per request ms | peak RSS MB | validator |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


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
    return (f"| {name} | {n_req} x {n_exp} | {n_options} | {limit:g} | {wall:.2f} | {plan.status} | "
            f"{ob.covered_weight} | {ob.upper_bound} | {pct:.2f}% | "
            f"{base_w} ({100 * base_w / max(1, ob.upper_bound):.1f}%, {t_greedy:.2f}) | "
            f"{t_index:.2f}, {1000 * t_ask:.1f} | {peak_mb:.0f} | "
            f"{'ok' if not errors else f'{len(errors)} errors'} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(run(args.one, args.time_limit), flush=True)
        return
    print(HEADER, flush=True)
    for name in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", name]
        if args.time_limit:
            cmd += ["--time-limit", str(args.time_limit)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
