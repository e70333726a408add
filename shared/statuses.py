"""Every status of the system, each a StrEnum defined once, and the named sets of them.

A member is its word (`RequestStatus.OPEN == "open"`): tables store it and messages carry it as
that string, so what older code wrote still reads. A set of statuses has one name meaning one set
everywhere. The assignment's statuses and its moves live in `shared.assignment` (the state
machine both services apply); they are re-exported here so one import gives the vocabulary.
What people read (the portal's and the CLI's words for a status) is theirs: this module holds
the words the code decides on, not their translations.
"""

from __future__ import annotations

from enum import StrEnum

from shared.assignment import COVERING, GRANTED, HELD, LIVE, TERMINAL
from shared.assignment import Status as AssignmentStatus

__all__ = [
    "COVERING",
    "GRANTED",
    "HELD",
    "LIVE",
    "TERMINAL",
    "AssignmentStatus",
    "ContractStatus",
    "DeliveryStatus",
    "RequestStatus",
    "MATCHING",
    "FINISHED",
    "UNCOVERED",
]


class RequestStatus(StrEnum):
    """A request's status: the matcher's (it follows the request's proposals) and contracts' copy
    (open until completed or cancelled)."""

    OPEN = "open"
    UNMATCHED = "unmatched"
    PROPOSED = "proposed"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


R = RequestStatus
#: Still being matched: waiting for a plan, told why none fits yet, or proposed to staff. The
#: plan may still change it, and staff may assign it by hand.
MATCHING: tuple[RequestStatus, ...] = (R.OPEN, R.UNMATCHED, R.PROPOSED)
#: No expert for it yet.
UNCOVERED: tuple[RequestStatus, ...] = (R.OPEN, R.UNMATCHED)
#: Nothing happens to it any more.
FINISHED: tuple[RequestStatus, ...] = (R.COMPLETED, R.CANCELLED)


class ContractStatus(StrEnum):
    """A contract's lifecycle (contracts decides it; the matcher and the notifier keep a copy)."""

    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class DeliveryStatus(StrEnum):
    """A notification's delivery on an external channel (email, webhook): waiting to be sent
    (or retried), sent, or given up on."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def sql_words(statuses: tuple[StrEnum, ...]) -> str:
    """Statuses as the constants of an SQL `IN (...)`: "'approved', 'accepted'" (our own words,
    never input)."""
    return ", ".join(f"'{s.value}'" for s in statuses)
