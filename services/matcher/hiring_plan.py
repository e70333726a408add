"""The hiring plan on the live system (`matcher.hiring_plan.get`): which contracts to sign for a
budget, on what is open now (the scenario a re-plan would solve, `planner.snapshot`), with the
pure planner of `services.matcher.hiring`.

It solves for seconds: one plan at a time per copy (a second asker is told to try again), the read
session closed before solving (no read snapshot held across a solve), and the joint model bounded
by `hiring_time_limit_s` (a province's plan proves its optimum well inside it).
"""

from __future__ import annotations

import datetime as dt
import threading

import structlog
from sqlmodel import Session

from services.matcher.hiring.hiring import plan_hiring
from services.matcher.hiring.menu import MenuError, parse_menu
from services.matcher.planner import snapshot
from shared import messages as m
from shared.bus import Rejected
from shared.scenario import Contract, Expert

log = structlog.get_logger("matcher.hiring")
_ONE_AT_A_TIME = threading.Lock()


def hiring_plan(
    session: Session, q: m.GetHiringPlan, *, today: dt.date, time_limit_s: float, workers: int, seed: int
) -> m.Reply[m.HiringPlanView]:
    sc = snapshot(session, today).scenario
    session.close()  # what follows is a solve: no read held across it
    menu = None
    if q.candidates is not None:
        try:
            menu = parse_menu({"candidates": [c.model_dump(mode="json") for c in q.candidates]}, sc)
        except MenuError as err:
            raise Rejected(f"candidates: {err}", "candidates") from None
    if not sc.requests or not sc.units:
        view = m.HiringPlanView(budget_vnd=q.budget_vnd, menu="file" if menu is not None else "default")
        return m.Reply.of(view)
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise Rejected("another hiring plan is being computed: try again in a minute")
    try:
        plan = plan_hiring(
            sc, q.budget_vnd, menu, time_limit_s=time_limit_s, workers=workers, seed=seed, menu_size=q.menu_size
        )
    finally:
        _ONE_AT_A_TIME.release()
    log.info(
        "hiring_planned",
        requests=len(sc.requests),
        candidates=plan.candidates,
        hires=len(plan.hires),
        gain=plan.gain,
        seconds=plan.solver.get("seconds"),
    )
    view = m.HiringPlanView(
        budget_vnd=plan.budget_vnd,
        menu="file" if plan.menu == "file" else "default",
        candidates=plan.candidates,
        requests=len(sc.requests),
        hires=[m.HireView.model_validate(h.model_dump()) for h in plan.hires],
        cost_vnd=plan.cost_vnd,
        covered_weight_before=plan.covered_weight_before,
        covered_weight_after=plan.covered_weight_after,
        joint_covered_weight=plan.joint_covered_weight,
        verified=plan.verified,
        gain=plan.gain,
        simple_rule=m.RuleView.model_validate(plan.simple_rule.model_dump()) if plan.simple_rule else None,
        experts=[Expert.model_validate(e) for e in plan.experts],
        contracts=[Contract.model_validate(c) for c in plan.contracts],
        seconds=float(plan.solver.get("seconds", 0)),
    )
    return m.Reply.of(view)
