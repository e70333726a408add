"""Composition root of the contracts service: which message goes to which use case.

The contracts service is the source of truth for experts, contracts and the ledger; it records
the matcher's proposals and every decision on them, and publishes balances and each contract's
lifecycle for the matcher. A background task expires contracts past their last day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import structlog
from sqlmodel import Session

from services.contracts import assignments as asg
from services.contracts import gaps, lifecycle, metrics, reference, reports, work
from services.contracts import handlers as h
from services.contracts.db import create_schema
from services.contracts.settings import ContractsSettings
from shared import catalogue, rpc
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.bus import Rejected, in_thread, run_once
from shared.clock import local_today
from shared.endpoints import Endpoint
from shared.parties import system_party
from shared.security.credentials import Actor
from shared.service import Permit, Service

log = structlog.get_logger("contracts")

EVENTS = catalogue.events("contracts")


def dated(use_case: Callable[..., m.Reply], st: ContractsSettings) -> Callable[..., m.Reply]:
    """A use case (a query's, or a command's with its actor) that needs today's date in the
    provinces' time zone."""
    return lambda session, msg, *actor: use_case(session, msg, *actor, today=local_today(st.timezone_offset_hours))


def _declined_by(session: Session, cmd: m.DeclineAssignment, actor: Actor) -> None:
    """The expert declines their own task; only the notifier declines for one who never answered."""
    if cmd.unanswered_only or actor.role == "system":
        if (actor.party, cmd.unanswered_only) != (system_party("notifier"), True):
            raise Rejected("only the notifier declines a task nobody answered, and only that", "unanswered_only")
        return
    asg.the_expert(session, cmd, actor)


STAFF = ("staff", "admin")
# Who may send each command (the roles), and whose it must be (the ownership check).
PERMITS: dict[str, Permit] = {
    s.REFERENCE_REGISTER: Permit.of(*STAFF, "expert", owner=reference.own_availability),
    s.CONTRACT_STATUS_CHANGE: Permit.of(*STAFF),
    s.CONTRACTS_EXPIRE: Permit.of(*STAFF),
    s.ASSIGNMENT_APPROVE: Permit.of(*STAFF),
    s.ASSIGNMENT_REJECT: Permit.of(*STAFF),
    s.ASSIGNMENTS_DECIDE: Permit.of(*STAFF),
    s.ASSIGNMENT_ACCEPT: Permit.of("expert", owner=asg.the_expert),
    s.ASSIGNMENT_DECLINE: Permit.of("expert", "system", owner=_declined_by),
    s.HOURS_LOG: Permit.of("expert", owner=asg.the_expert),
    s.EXTRA_HOURS_DECIDE: Permit.of(*STAFF),
    s.REQUEST_COMPLETE: Permit.of("commune", owner=work.the_commune),
}


def build(settings: ContractsSettings | None = None) -> Service:
    st = settings or ContractsSettings()
    svc = Service(st, events=EVENTS, create_schema=create_schema)
    svc.gauges(metrics.gauges)
    endpoint: Endpoint[Any, Any]  # each loop below registers several kinds of handler
    use_case: Callable[..., Any]
    for endpoint, use_case, description in (
        (
            E.REFERENCE_REGISTER,
            dated(reference.register_reference, st),
            "Add or replace units, travel times, experts and contracts (all or nothing).",
        ),
        (
            E.CONTRACT_STATUS_CHANGE,
            dated(lifecycle.change_status, st),
            "Staff activate, suspend, resume or terminate a contract.",
        ),
        (
            E.CONTRACTS_EXPIRE,
            dated(lifecycle.expire_due, st),
            "Expire every contract past its last day (also run periodically).",
        ),
        (
            E.ASSIGNMENT_APPROVE,
            h.approve,
            "Staff approve a proposal: the hours and budget are reserved.",
        ),
        (
            E.ASSIGNMENT_REJECT,
            h.reject,
            "Staff reject a proposal: the request goes back to matching.",
        ),
        (
            E.ASSIGNMENTS_DECIDE,
            h.decide_batch,
            "Staff approve or reject a batch of proposals, each on its own.",
        ),
        (E.ASSIGNMENT_ACCEPT, h.accept, "The expert accepts an approved task."),
        (E.ASSIGNMENT_DECLINE, h.decline, "The expert declines: the reservation is released."),
        (
            E.HOURS_LOG,
            work.log_hours,
            "The expert logs hours worked: reserved time is consumed, any excess flagged for staff.",
        ),
        (
            E.EXTRA_HOURS_DECIDE,
            work.decide_extra,
            "Staff approve or refuse hours logged beyond the reservation.",
        ),
        (
            E.REQUEST_COMPLETE,
            work.complete_request,
            "The commune confirms completion: what was not used is released.",
        ),
    ):
        svc.command(endpoint, use_case, description=description, permit=PERMITS[endpoint.subject])
    for query, fn, description in (
        (
            E.CONTRACTS_STATUS,
            h.status,
            "Assignments and contract balances.",
        ),
        (E.AUDIT, h.audit_trail, "The audit trail: every decision, who, when, before and after."),
        (
            E.AUDIT_VERIFY,
            lambda session, q: h.audit_verify(session, q, issuers=svc.keyring.keys()[0]),
            "Recompute the audit trail's hash chain and check every signature: is it intact and proven?",
        ),
        (E.REPORT, dated(reports.report, st), "A report per contract, unit or expert."),
        (
            E.CONTRACTS_GAPS,
            lambda session, q: gaps.gaps(
                session, q, today=local_today(st.timezone_offset_hours), offset_hours=st.timezone_offset_hours
            ),
            "The ledger's part of the shortage report: time from request to approval, each contract's use.",
        ),
        (
            E.REFERENCE,
            reference.reference,
            "Units, experts and contracts as registered (for export).",
        ),
    ):
        svc.query(query, fn, description=description)
    for subject, event, on_event, name, description in (
        (
            s.ASSIGNMENT_PROPOSED,
            m.AssignmentProposed,
            lambda session, evt: h.record_proposal(session, evt, issuers=svc.keyring.keys()[0]),
            "proposals",
            "Record the matcher's proposals, waiting for staff (staff's own are approved at once).",
        ),
        (
            s.ASSIGNMENT_WITHDRAWN,
            m.AssignmentWithdrawn,
            h.withdraw_proposal,
            "withdrawals",
            "The matcher withdrew a proposal staff had not decided on.",
        ),
        (
            s.REQUEST_SUBMITTED,
            m.RequestSubmitted,
            work.copy_request,
            "requests",
            "What each unit asked for, for the reports.",
        ),
        (
            s.REQUESTS_SUBMITTED,
            m.RequestsSubmitted,
            work.copy_requests,
            "submissions",
            "What each unit asked for, many requests at once (a load).",
        ),
        (
            s.REQUEST_CANCELLED,
            m.RequestCancelled,
            work.cancel_request,
            "cancellations",
            "A cancelled request releases what it reserved.",
        ),
    ):
        svc.event(subject, event, on_event, name=name, description=description)
    svc.background(lambda: asyncio.create_task(_expiry_sweeps(svc, st), name="expiry"))
    return svc


def _expire(cmd: m.ExpireContracts, session: Session) -> m.Reply[m.ContractsExpired]:
    assert cmd.today is not None
    return lifecycle.expire_due(session, cmd, asg.CONTRACTS, today=cmd.today)


async def _expiry_sweeps(svc: Service, st: ContractsSettings) -> None:
    """Contracts pass their last day while the service runs: expire them once per local day (the
    sweep is keyed by the date, so instances and restarts do it once), checking every
    `expiry_check_s` for the day to turn. A contract registered already past its end is expired
    at registration."""
    while True:
        cmd = m.ExpireContracts(today=local_today(st.timezone_offset_hours))
        try:
            reply = await in_thread(
                run_once, svc.engine, f"expire:{cmd.today}", s.CONTRACTS_EXPIRE, partial(_expire, cmd)
            )
            svc.relay.notify()
            expired = rpc.read(E.CONTRACTS_EXPIRE, reply).expired if reply else []
            if expired:
                log.info("contracts_expired", contracts=expired)
        except Exception:  # noqa: BLE001 - a failed sweep is logged and tried again next time
            log.exception("expiry_sweep_failed")
        await asyncio.sleep(st.expiry_check_s)
