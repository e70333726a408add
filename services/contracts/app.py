"""Composition root of the contracts service: which message goes to which use case.

The contracts service is the source of truth for experts, contracts and the ledger; it records
the matcher's proposals and every decision on them, and publishes balances for the matcher.
"""

from __future__ import annotations

from services.contracts import handlers as h
from services.contracts.db import create_schema
from services.contracts.settings import ContractsSettings
from shared import messages as m
from shared import subjects as s
from shared.service import Service

EVENTS: dict[str, type[m.Message]] = {
    s.UNIT_REGISTERED: m.UnitRegistered,
    s.TRAVEL_REGISTERED: m.TravelRegistered,
    s.EXPERT_REGISTERED: m.ExpertRegistered,
    s.CONTRACT_REGISTERED: m.ContractRegistered,
    s.BALANCE_CHANGED: m.BalanceChanged,
    s.ASSIGNMENT_APPROVED: m.AssignmentApproved,
    s.ASSIGNMENT_REJECTED: m.AssignmentRejected,
    s.ASSIGNMENT_ACCEPTED: m.AssignmentAccepted,
    s.ASSIGNMENT_DECLINED: m.AssignmentDeclined,
    s.ASSIGNMENT_CANCELLED: m.AssignmentCancelled,
    s.HOURS_LOGGED: m.HoursLogged,
    s.REQUEST_COMPLETED: m.RequestCompleted,
}


def build(settings: ContractsSettings | None = None) -> Service:
    svc = Service(settings or ContractsSettings(), events=EVENTS, create_schema=create_schema)
    svc.command(s.REFERENCE_REGISTER, m.RegisterReference, h.register_reference,
                description="Add or replace units, travel times, experts and contracts.")
    svc.command(s.ASSIGNMENT_APPROVE, m.ApproveAssignment, h.approve,
                description="Staff approve a proposal: the hours and budget are reserved.")
    svc.command(s.ASSIGNMENT_REJECT, m.RejectAssignment, h.reject,
                description="Staff reject a proposal: the request goes back to matching.")
    svc.command(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment, h.accept,
                description="The expert accepts an approved task.")
    svc.command(s.ASSIGNMENT_DECLINE, m.DeclineAssignment, h.decline,
                description="The expert declines: the reservation is released.")
    svc.command(s.HOURS_LOG, m.LogHours, h.log_hours,
                description="The expert logs hours worked: reserved time is consumed.")
    svc.command(s.REQUEST_COMPLETE, m.CompleteRequest, h.complete_request,
                description="The commune confirms completion: what was not used is released.")
    svc.query(s.CONTRACTS_STATUS_GET, m.GetStatus, lambda session, _q: h.status(session),
              description="Assignments and contract balances.")
    svc.query(s.AUDIT_GET, m.GetAudit, h.audit_trail,
              description="The audit trail: every decision, who, when, before and after.")
    svc.query(s.AUDIT_VERIFY_GET, m.GetStatus, h.audit_verify,
              description="Recompute the audit trail's hash chain: is it intact?")
    svc.event(s.ASSIGNMENT_PROPOSED, m.AssignmentProposed, h.record_proposal, name="proposals",
              description="Record the matcher's proposals, waiting for staff.")
    svc.event(s.ASSIGNMENT_WITHDRAWN, m.AssignmentWithdrawn, h.withdraw_proposal, name="withdrawals",
              description="The matcher withdrew a proposal staff had not decided on.")
    svc.event(s.REQUEST_CANCELLED, m.RequestCancelled, h.cancel_request, name="cancellations",
              description="A cancelled request releases what it reserved.")
    return svc
