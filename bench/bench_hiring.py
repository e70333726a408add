"""Hiring-plan benchmark: a generated province with the default menu, the plan's time, coverage
before and after (checked by a fresh solve), cost, and the simple rule on the same budget. Each
size runs in its own process. Prints a markdown table (the one in docs/performance.md, "Hiring plan").

    .venv/bin/python bench/bench_hiring.py [--sizes province,medium]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from scenarios.generate import generate
from services.matcher.hiring.hiring import plan_hiring

# name: requests, experts, candidates, budget (dong), target seconds
SIZES = {"province": (200, 60, 100, 50_000_000, 10.0), "medium": (2000, 400, 300, 300_000_000, 60.0)}
HEADER = (
    "| size | requests x experts | candidates | options (model) | budget ₫ | plan s (joint s, status) | target s "
    "| hires | cost ₫ | covered before | covered after (joint) | gain | simple rule: hires, cost ₫, after, s "
    "| plan vs rule |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def run(name: str) -> str:
    n_req, n_exp, n_cand, budget, target = SIZES[name]
    sc = generate(n_req, n_exp, seed=1)
    t0 = time.monotonic()
    plan = plan_hiring(sc, budget, menu_size=n_cand)
    wall = time.monotonic() - t0
    info, rule = plan.solver, plan.simple_rule
    assert rule is not None
    assert plan.cost_vnd <= budget and rule.cost_vnd <= budget
    return (
        f"| {name} | {n_req} x {n_exp} | {plan.candidates} | {info['options']} ({info['model_options']}) "
        f"| {budget:,} | {info['seconds']:.1f} ({info['joint_seconds']:.1f}, {info['joint_status']}) | {target:g} "
        f"| {len(plan.hires)} | {plan.cost_vnd:,} | {plan.covered_weight_before} "
        f"| {plan.covered_weight_after} ({plan.joint_covered_weight}) | +{plan.gain} "
        f"| {len(rule.hires)}, {rule.cost_vnd:,}, {rule.covered_weight_after}, {info['rule_seconds']:.1f} "
        f"| {plan.covered_weight_after - rule.covered_weight_after:+d} |  <!-- total {wall:.1f} s -->"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="province,medium")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(run(args.one), flush=True)
        return
    print(HEADER, flush=True)
    for name in args.sizes.split(","):
        subprocess.run([sys.executable, __file__, "--one", name], check=True)


if __name__ == "__main__":
    main()
