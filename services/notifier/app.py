"""Composition root of the notifier service: which event tells which party.

The notifier listens to the matcher's and the contracts service's events and keeps an inbox per
party (`expert:<id>`, `unit:<id>`, `staff:home-affairs`), in the party's language.
"""

from __future__ import annotations

from functools import partial

from services.notifier import handlers as h
from services.notifier.db import create_schema
from services.notifier.settings import NotifierSettings
from shared import messages as m
from shared import subjects as s
from shared.service import Service

EVENTS: dict[str, type[m.Message]] = {s.NOTIFICATION_DELIVERED: m.NotificationDelivered}


def build(settings: NotifierSettings | None = None) -> Service:
    st = settings or NotifierSettings()
    svc = Service(st, events=EVENTS, create_schema=create_schema)
    svc.query(s.INBOX_GET, m.GetInbox, h.inbox, description="A party's notifications, newest first.")
    svc.command(s.INBOX_MARK_READ, m.MarkRead, h.mark_read, description="Mark a party's notifications read.")
    for subject, model, use_case, name, description in (
        (s.UNIT_REGISTERED, m.UnitRegistered, h.remember_unit, "units", "Names of communes."),
        (s.EXPERT_REGISTERED, m.ExpertRegistered, h.remember_expert, "experts", "Names and languages of experts."),
        (s.REQUEST_SUBMITTED, m.RequestSubmitted, h.request_submitted, "submitted", "Commune: request received."),
        (s.ASSIGNMENT_PROPOSED, m.AssignmentProposed, h.assignment_proposed, "proposed",
         "Staff: a proposal waits; commune: an expert was found."),
        (s.REQUEST_UNMATCHED, m.RequestUnmatched, h.request_unmatched, "unmatched", "Commune and staff: no expert yet."),
        (s.ASSIGNMENT_APPROVED, m.AssignmentApproved, h.approved, "approved", "Expert: a new task; commune: approved."),
        (s.ASSIGNMENT_ACCEPTED, m.AssignmentAccepted, h.accepted, "accepted", "Commune and staff: accepted."),
        (s.ASSIGNMENT_DECLINED, m.AssignmentDeclined, h.declined, "declined", "Commune and staff: declined."),
        (s.ASSIGNMENT_CANCELLED, m.AssignmentCancelled, h.cancelled, "cancelled", "Expert: task cancelled."),
        (s.HOURS_LOGGED, m.HoursLogged, h.hours_logged, "hours", "Commune: hours worked."),
        (s.REQUEST_COMPLETED, m.RequestCompleted, h.completed, "completed", "Everyone: request completed."),
        (s.BALANCE_CHANGED, m.BalanceChanged, partial(h.balance_changed, ratio=st.low_balance_ratio), "balances",
         "Staff: a contract under 10% of its hours or budget."),
    ):
        svc.event(subject, model, use_case, name=name, description=description)
    return svc
