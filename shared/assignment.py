"""The assignment state machine, written once for both services: which status may follow which.

The contracts service is the authority on an assignment's status and moves it only along
`MOVES` (target -> the statuses it may be reached from), each move a conditional UPDATE
(`... WHERE id = :id AND status IN MOVES[target]`) whose row count says whether it happened.

The matcher keeps a copy in the same words (its tables said `pending` for proposed before its
migration 0005; `Status("pending")` still reads that word as proposed). Its copy only moves
forward: an event from contracts is applied when the status it announces can follow the copy's
status by one or more moves (`overwrites`), so a late or repeated event changes nothing. The
matcher's own withdrawal of a proposal is a wish contracts may not have seen yet: a decision
contracts made on it (approval, rejection...) overwrites it, since contracts decides.

This module holds no database or service code: the services apply it to their own tables.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache


class Status(StrEnum):
    """An assignment's (a proposal's) status, in both services and on the wire."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @classmethod
    def _missing_(cls, value: object) -> Status | None:
        # The matcher's word for proposed before its migration 0005, in a row or a message it wrote.
        return cls.PROPOSED if value == "pending" else None


S = Status
#: target -> the statuses it may be reached from.
MOVES: dict[Status, tuple[Status, ...]] = {
    S.APPROVED: (S.PROPOSED,),
    S.ACCEPTED: (S.APPROVED,),
    S.REJECTED: (S.PROPOSED,),
    S.DECLINED: (S.APPROVED, S.ACCEPTED),
    S.WITHDRAWN: (S.PROPOSED,),
    S.CANCELLED: (S.PROPOSED, S.APPROVED, S.ACCEPTED),
    S.COMPLETED: (S.ACCEPTED,),
}
#: Holds a slot: waiting for staff, or approved work.
LIVE: tuple[Status, ...] = (S.PROPOSED, S.APPROVED, S.ACCEPTED)
#: Approved work: holds hours and budget in the ledger.
HELD: tuple[Status, ...] = (S.APPROVED, S.ACCEPTED)
#: A slot's work proposed, under way or done: what covers a request's need, and what keeps a
#: trainee's time taken.
COVERING: tuple[Status, ...] = (*LIVE, S.COMPLETED)
#: Work staff granted, under way or done: what a unit received.
GRANTED: tuple[Status, ...] = (*HELD, S.COMPLETED)
TERMINAL: tuple[Status, ...] = (S.REJECTED, S.DECLINED, S.WITHDRAWN, S.CANCELLED, S.COMPLETED)


def sources(target: str) -> tuple[Status, ...]:
    """The statuses `target` may be reached from in one move (empty: none, e.g. back to proposed)."""
    return MOVES.get(Status(target), ())


@cache
def precedes(target: Status) -> frozenset[Status]:
    """Every status from which `target` is reached by one or more moves."""
    found: set[Status] = set()
    todo = list(sources(target))
    while todo:
        s = todo.pop()
        if s not in found:
            found.add(s)
            todo.extend(sources(s))
    return frozenset(found)


def overwrites(target: str) -> tuple[Status, ...]:
    """The statuses of the matcher's copy that contracts' news of `target` moves forward: those
    `target` follows, and the matcher's own withdrawal where contracts may still have moved on
    from proposed."""
    before = precedes(Status(target))
    extra = (S.WITHDRAWN,) if S.PROPOSED in before and target != S.WITHDRAWN else ()
    return tuple(sorted(before, key=list(Status).index)) + extra
