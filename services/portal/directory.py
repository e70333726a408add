"""Who is who, for the pages: units and experts by id (names where people read, ids beside them
only where staff need them), and how to reach an expert once staff approved them.

The names come from the contracts service's reference lists, kept for NAMES_TTL_S (and dropped at
once when the portal registers a change: `Bus.command`); the contact is the e-mail address the
expert's notifications go to (the notifier's preferences), asked only for approved work.
"""

from __future__ import annotations

import time
from typing import Any

from services.portal.bus import Bus, Unavailable
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared.parties import expert_party
from shared.statuses import COVERING, AssignmentStatus

#: How long the names of units and experts are kept (a page asks for them often; they rarely change).
NAMES_TTL_S = 30.0


async def names(bus: Bus) -> dict[str, dict[str, dict[str, Any]]]:
    """Units and experts by id ({"units": {...}, "experts": {...}}), asked of the contracts
    service at most every NAMES_TTL_S: pages show names where people read, ids only beside them."""
    kept = bus.names_kept
    if kept and time.monotonic() - kept[0] < NAMES_TTL_S:
        return kept[1]
    ref = await bus.reference()
    # As records (the pages' templates look a name up with `.get`, a unit beside an expert's home).
    found = {
        "units": {u.id: u.model_dump(mode="json") for u in ref.units},
        "experts": {e.id: e.model_dump(mode="json") for e in ref.experts},
    }
    bus.names_kept = (time.monotonic(), found)
    return found


async def contact(bus: Bus, expert_id: str) -> str | None:
    """How to reach an expert: the e-mail address their notifications go to, if they gave one."""
    try:
        prefs = await bus.ask(E.PREFERENCES, m.GetPreferences(party=expert_party(expert_id)))
    except Unavailable:  # the notifier down: the page still shows who is coming
        return None
    except rpc.Refused:
        return None
    return prefs.email or None


async def visits(bus: Bus, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Who is coming for a request, when and how; their contact once staff approved them."""
    known = await names(bus)
    experts, units = known["experts"], known["units"]
    out = []
    for a in r["assignments"]:
        if a["status"] not in COVERING:
            continue
        e = experts.get(a["expert_id"], {})
        approved = a["status"] != AssignmentStatus.PROPOSED
        out.append(
            {
                "name": e.get("name") or a["expert_id"],
                "mode": a["mode"],
                "deadline": a.get("deadline"),
                "status": a["status"],
                "minutes": a.get("minutes"),
                "approved": approved,
                "home": (units.get(e.get("home_unit", "")) or {}).get("name"),
                "contact": await contact(bus, a["expert_id"]) if approved else None,
            }
        )
    return out
