"""Solver benchmark: generated provinces at three sizes, against the greedy baseline and the
proven bound; every plan checked by the independent validator. Prints a markdown table.

    .venv/bin/python bench/bench_solver.py [--sizes small,medium,large] [--time-limit S]
"""

from __future__ import annotations

import argparse
import resource
import time

from scenarios.generate import generate
from services.matcher.solver import greedy, solve
from services.matcher.solver.problem import build_problem
from services.matcher.solver.table import build
from services.matcher.solver.validate import validate

SIZES = {"small": (200, 60, 1.0), "medium": (2000, 400, 10.0), "large": (10_000, 2000, 60.0)}


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
    return (f"| {name} | {n_req} x {n_exp} | {n_options} | {limit:g} | {wall:.2f} | {plan.status} | "
            f"{ob.covered_weight} | {ob.upper_bound} | {100 * ob.covered_weight / max(1, ob.upper_bound):.2f}% | "
            f"{base_w} ({100 * base_w / max(1, ob.upper_bound):.1f}%, {t_greedy:.2f} s) | {peak_mb:.0f} | "
            f"{'ok' if not errors else len(errors)} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--time-limit", type=float, default=None)
    args = ap.parse_args()
    print("| size | requests x experts | options | limit s | wall s | status | covered | bound | % of bound "
          "| greedy (% of bound, time) | peak RSS MB | validator |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sizes.split(","):
        print(run(name, args.time_limit), flush=True)


if __name__ == "__main__":
    main()
