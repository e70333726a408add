"""Parties: who a notification is for and whose name a decision is taken in, written
`<kind>:<id>` (`expert:e1`, `unit:u1`, `staff:lan`, `system:notifier`). Every service, the CLI
and the portal build and read them here, so the spelling lives once (a credential's `party`
field checks the same shape: `shared.security.credentials`).
"""

from __future__ import annotations

EXPERT, UNIT, STAFF_KIND, SYSTEM = "expert", "unit", "staff", "system"

#: The home-affairs staff's shared inbox: what the province's staff are told.
STAFF = "staff:home-affairs"


def expert_party(expert_id: str) -> str:
    return f"{EXPERT}:{expert_id}"


def unit_party(unit_id: str) -> str:
    return f"{UNIT}:{unit_id}"


def staff_party(name: str) -> str:
    """`lan` or `staff:lan` -> `staff:lan`."""
    return f"{STAFF_KIND}:{name.removeprefix(STAFF_KIND + ':')}"


def system_party(service: str) -> str:
    return f"{SYSTEM}:{service}"


def kind_of(party: str) -> str:
    return party.partition(":")[0]


def id_of(party: str, kind: str | None = None) -> str | None:
    """`e1` for `expert:e1` (of `kind`, when given, else None); the party itself without a kind."""
    prefix, sep, rest = party.partition(":")
    if not sep:
        return party if kind is None else None
    return rest if kind is None or prefix == kind else None
