"""Composition root of the matcher service: requests in, proposals out, re-solving in batches.

Every change that can alter the plan (a request, reference data, a balance, a decision) marks
the plan dirty; one background task waits a moment to batch what else arrives, then re-solves in
a worker thread. The engine is the pure `services.matcher.solver`.
"""

from __future__ import annotations

import asyncio
from functools import partial

import structlog

from services.matcher import handlers as h
from services.matcher.alternatives import candidates
from services.matcher.db import create_schema
from services.matcher.overrides import assign_manually
from services.matcher.planner import replan
from services.matcher.settings import MatcherSettings
from shared import messages as m
from shared import subjects as s
from shared.bus import in_thread
from shared.clock import local_today
from shared.service import Service

log = structlog.get_logger("matcher")

EVENTS: dict[str, type[m.Message]] = {
    s.REQUEST_SUBMITTED: m.RequestSubmitted,
    s.REQUEST_CANCELLED: m.RequestCancelled,
    s.REQUEST_UNMATCHED: m.RequestUnmatched,
    s.ASSIGNMENT_PROPOSED: m.AssignmentProposed,
    s.ASSIGNMENT_WITHDRAWN: m.AssignmentWithdrawn,
}


class Replanner:
    """At most one re-solve at a time; changes arriving meanwhile are batched into the next."""

    def __init__(self, svc: Service, settings: MatcherSettings) -> None:
        self.svc, self.settings = svc, settings
        self.dirty = asyncio.Event()
        self.cause: m.Message = m.Message()

    def mark(self, cause: m.Message) -> None:
        self.cause = cause
        self.dirty.set()

    def start(self) -> None:
        asyncio.create_task(self._run(), name="replanner")

    async def _run(self) -> None:
        self.dirty.set()  # plan whatever is open at start (after a crash, say)
        while True:
            await self.dirty.wait()
            await asyncio.sleep(self.settings.debounce_s)
            self.dirty.clear()
            st = self.settings
            # The plan's lines and proposals carry the correlation id of the change that caused it.
            structlog.contextvars.bind_contextvars(correlation_id=self.cause.correlation_id)
            try:
                await in_thread(partial(
                    replan, self.svc.engine, today=local_today(st.timezone_offset_hours),
                    time_limit_s=st.time_limit_s, workers=st.workers, seed=st.seed, cause=self.cause,
                ))
                self.svc.relay.notify()
            except Exception:  # noqa: BLE001 - a failed re-solve is logged and retried on the next change
                log.exception("replan_failed")
                await asyncio.sleep(1.0)


def build(settings: MatcherSettings | None = None) -> Service:
    st = settings or MatcherSettings()
    svc = Service(st, events=EVENTS, create_schema=create_schema)
    planner = Replanner(svc, st)
    svc.background(planner.start)

    async def after_event(_subject: str, evt: m.Message) -> None:
        planner.mark(evt)

    svc.after_event = after_event

    def submit(session, cmd: m.SubmitRequest) -> m.Reply:  # type: ignore[no-untyped-def]
        reply = h.submit_request(session, cmd, today=local_today(st.timezone_offset_hours))
        planner.mark(cmd)
        return reply

    svc.command(s.REQUEST_SUBMIT, m.SubmitRequest, submit,
                description="A commune submits a support request.")
    svc.command(s.REQUEST_CANCEL, m.CancelRequest, h.cancel_request,
                description="A commune cancels a request: what it reserved is released.")

    def assign(session, cmd: m.AssignManually) -> m.Reply:  # type: ignore[no-untyped-def]
        reply = assign_manually(session, cmd, today=local_today(st.timezone_offset_hours))
        planner.mark(cmd)
        return reply

    svc.command(s.ASSIGNMENT_ASSIGN, m.AssignManually, assign,
                description="Staff assign an expert by hand, checked by the solver's rules.")
    svc.query(s.MATCHER_STATUS_GET, m.GetStatus, h.status,
              description="Requests and proposals with their status.")
    svc.query(s.PLAN_INPUT_GET, m.GetPlanInput, h.plan_input,
              description="The scenario a plan was made from, by the digest the audit trail keeps.")

    def alternatives(session, q: m.GetCandidates) -> m.Reply:  # type: ignore[no-untyped-def]
        return candidates(session, q, today=local_today(st.timezone_offset_hours))

    svc.query(s.CANDIDATES_GET, m.GetCandidates, alternatives,
              description="The best few experts for one open request, with what each would displace.")
    for subject, model, use_case, name, description in (
        (s.UNIT_REGISTERED, m.UnitRegistered, h.copy_unit, "units", "Copy of a registered unit."),
        (s.TRAVEL_REGISTERED, m.TravelRegistered, h.copy_travel, "travel", "Copy of travel times."),
        (s.EXPERT_REGISTERED, m.ExpertRegistered, h.copy_expert, "experts", "Copy of an expert."),
        (s.CONTRACT_REGISTERED, m.ContractRegistered, h.copy_contract, "contracts", "Copy of a contract."),
        (s.CONTRACT_STATUS_CHANGED, m.ContractStatusChanged, h.copy_contract_status, "contract-status",
         "A contract's lifecycle: only active ones are planned with."),
        (s.BALANCE_CHANGED, m.BalanceChanged, h.copy_balance, "balances", "A contract's new balance."),
        (s.ASSIGNMENT_APPROVED, m.AssignmentApproved, h.on_approved, "approvals", "Approved: pinned."),
        (s.ASSIGNMENT_ACCEPTED, m.AssignmentAccepted, h.on_accepted, "acceptances", "Accepted by the expert."),
        (s.ASSIGNMENT_REJECTED, m.AssignmentRejected, h.on_rejected, "rejections",
         "Rejected: re-match without that expert."),
        (s.ASSIGNMENT_DECLINED, m.AssignmentDeclined, h.on_declined, "declines",
         "Declined: re-match without that expert."),
        (s.ASSIGNMENT_CANCELLED, m.AssignmentCancelled, h.on_cancelled, "cancellations", "Cancelled assignment."),
        (s.REQUEST_COMPLETED, m.RequestCompleted, h.on_completed, "completions", "The commune confirmed completion."),
    ):
        svc.event(subject, model, use_case, name=name, description=description)
    return svc
