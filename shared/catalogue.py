"""The events of the system, declared once: per owning service, each event subject and its model.

Everything that needs to know what an event is reads this declaration, never a subject's
wording: each owner's JetStream stream captures exactly its subjects here (`shared.streams`),
each service's composition root registers its publishers (and so its AsyncAPI document) from
its entry, and the NATS permissions let a service publish its own events and nothing else of
the kind (`shared.security.identities`). A subject missing here is a command or a query
(core-NATS request-reply), whatever its name ends with.
"""

from __future__ import annotations

from shared import messages as m
from shared import subjects as s

EventModels = dict[str, type[m.Message]]

#: owner -> {event subject: its model}.
EVENTS: dict[str, EventModels] = {
    "matcher": {
        s.REQUEST_SUBMITTED: m.RequestSubmitted,
        s.REQUEST_CANCELLED: m.RequestCancelled,
        s.REQUESTS_SUBMITTED: m.RequestsSubmitted,
        s.REQUEST_UNMATCHED: m.RequestUnmatched,
        s.ASSIGNMENT_PROPOSED: m.AssignmentProposed,
        s.ASSIGNMENT_WITHDRAWN: m.AssignmentWithdrawn,
        s.PLAN_OVERCOMMITTED: m.PlanOvercommitted,
    },
    "contracts": {
        s.REFERENCE_REGISTERED: m.ReferenceRegistered,
        s.UNIT_REGISTERED: m.UnitRegistered,
        s.TRAVEL_REGISTERED: m.TravelRegistered,
        s.EXPERT_REGISTERED: m.ExpertRegistered,
        s.CONTRACT_REGISTERED: m.ContractRegistered,
        s.CONTRACT_STATUS_CHANGED: m.ContractStatusChanged,
        s.BALANCE_CHANGED: m.BalanceChanged,
        s.ASSIGNMENT_APPROVED: m.AssignmentApproved,
        s.ASSIGNMENT_REJECTED: m.AssignmentRejected,
        s.ASSIGNMENT_ACCEPTED: m.AssignmentAccepted,
        s.ASSIGNMENT_DECLINED: m.AssignmentDeclined,
        s.ASSIGNMENT_CANCELLED: m.AssignmentCancelled,
        s.HOURS_LOGGED: m.HoursLogged,
        s.HOURS_FLAGGED: m.HoursFlagged,
        s.HOURS_REFUSED: m.HoursRefused,
        s.REQUEST_COMPLETED: m.RequestCompleted,
    },
    "notifier": {
        s.NOTIFICATION_DELIVERED: m.NotificationDelivered,
        s.NOTIFICATION_FAILED: m.NotificationFailed,
    },
}


def events(owner: str) -> EventModels:
    """The owner's events and their models (empty for a service that publishes none)."""
    return dict(EVENTS.get(owner, {}))


def events_of(owner: str) -> list[str]:
    """The event subjects an owner publishes: the subjects of its stream."""
    return sorted(EVENTS.get(owner, {}))


def owners() -> list[str]:
    """Every service that publishes events, each with a stream of its own."""
    return sorted(owner for owner, declared in EVENTS.items() if declared)


def is_event(subject: str) -> bool:
    return any(subject in declared for declared in EVENTS.values())
