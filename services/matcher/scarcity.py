"""What an expert's time is worth to the requests still to come: the placement's price of scarcity.

The placement decides a request at once, and staff approve within minutes, after which the work
is never moved: so the cheapest option that fits now may spend the one expert a later request
could have had (a remote expert with rare skills, eligible for everything, used up on work that
a local one could do). The engine cannot see that (it plans only the requests known), so the
placement weighs what usually comes.

`Demand`: the requests seen (the matcher's own, those submitted in the last `WINDOW_DAYS`) taken
as a sample of the demand to come. Each slot spreads its priority weight times its hours over the
experts eligible for it, an equal share each (`spread`): a slot only one expert can serve puts
its whole weight on that expert, a slot twenty can serve a twentieth on each. An expert's
`pressure` is the sum of those shares; its scarcity is that pressure over the room it has left,
and an option's price is the scarcity times the minutes it takes (`price`). Only the ranking of
one slot's options uses it: whether a request is covered never depends on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.matcher.solver.limits import weight
from services.matcher.solver.table import _slot_rows
from shared.scenario import Request

if TYPE_CHECKING:
    from services.matcher.placement import Reference, Room

#: The requests taken as the sample of what comes when the copies are read again: the latest
#: SAMPLE submitted in the last four weeks (each costs about 0.2 ms on a country's 2,000
#: experts: a sample of 10,000 would hold the placement 2 s after every change of a copy).
WINDOW_DAYS = 28
SAMPLE = 2_000
#: The price's weight against the options' score (`candidates.score`: a thousand dong 1, a
#: minute of travel 2, a step away from local 50): an option costs W_SCARCE per hour of work times
#: its expert's pressure (weighted hours) over the hours the expert has left; so 300, an hour at
#: the dearest rate (300 000 ₫), when the demand seen for the expert equals its room. Chosen
#: offline (`bench/sim_day.py`, 200 x 60, seeds 1 to 16): 98.0% of hindsight at 100, 98.3% at
#: 300, 98.4% at 1,000, 95.5% without a price (docs/performance.md).
#: The installation may set another (`MATCHER_SCARCITY_WEIGHT`): a dearer price covers a little
#: more work for more money (docs/performance.md), a trade-off for the staff who answer for both.
W_SCARCE = 300.0


class Demand:
    """The demand seen, spread over the experts eligible for it (positions of `ref.sc.experts`)."""

    def __init__(self, ref: Reference, weight: float | None = None) -> None:
        self.ref = ref
        self.weight = W_SCARCE if weight is None else weight  # the price's weight (`W_SCARCE`)
        self.pressure = np.zeros(len(ref.sc.experts), dtype=np.float64)
        self.seen: set[str] = set()

    def see(self, r: Request) -> None:
        """Count a request once (a request never changes once submitted)."""
        if r.id in self.seen or r.unit not in self.ref.ex.unit_pos:
            return
        self.seen.add(r.id)
        for es, hours in spread(self.ref, r):
            self.pressure[es] += weight(r.priority) * hours / es.size

    def scarcity(self, room: Room, es: np.ndarray, cs: np.ndarray) -> np.ndarray:
        """Per option (expert, contract): the expert's pressure over the minutes it can still
        give under that contract (at least one hour, so a nearly full expert is not infinite)."""
        return self.pressure[es] / np.maximum(left(self.ref, room, es, cs), 60)


def left(ref: Reference, room: Room, es: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """Per option: the minutes the expert can still work under the contract: its own time, the
    contract's hours, and what the contract's budget can still pay at its rate."""
    out = np.minimum(np.asarray(room.e)[es], np.asarray(room.c_min)[cs])
    rate = ref.ex.c_rate[cs]
    paid = np.asarray(room.budget, dtype=bool)[cs] & (rate > 0)
    budget = np.asarray(room.c_vnd, dtype=np.int64)[cs] * 60 // np.maximum(rate, 1)
    return np.where(paid, np.minimum(out, budget), out)


def spread(ref: Reference, r: Request) -> list[tuple[np.ndarray, float]]:
    """Per slot of `r`: the experts eligible for it under an active contract (whatever their
    room), and its hours."""
    out = []
    slots = r.effective_slots()
    for row in _slot_rows(ref.sc, ref.travel, ref.ex, r, 0, {}):
        k, es, cs = int(row[1][0]), row[2], row[3]
        es = np.unique(es[ref.active[cs]])
        if es.size:
            out.append((es, float(slots[k].hours)))
    return out


def price(demand: Demand | None, room: Room, es: np.ndarray, cs: np.ndarray, mins: np.ndarray) -> np.ndarray:
    """The scarcity price of each option, in the units of `candidates.score`."""
    if demand is None:
        return np.zeros(es.size, dtype=np.int64)
    return np.rint(demand.weight * demand.scarcity(room, es, cs) * mins).astype(np.int64)
