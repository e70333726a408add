"""What each role sees, read from the owners over NATS and cut to what the user may see.

A commune officer sees its own unit's requests only; an expert its own tasks only; staff see all.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from services.portal.bus import Bus
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared.statuses import GRANTED, MATCHING
from shared.statuses import AssignmentStatus as A
from shared.statuses import RequestStatus as R

STEPS = ("submitted", A.PROPOSED, A.APPROVED, A.ACCEPTED, A.COMPLETED)
# How far along an assignment status puts a request (rejected/declined go back to matching).
_REACHED = {A.PROPOSED: 1, A.APPROVED: 2, A.ACCEPTED: 3, A.COMPLETED: 4}


#: The most requests or tasks a list shows (the newest); a whole country's would not fit a page.
LIST_LIMIT = 300


async def unit_requests(bus: Bus, unit_id: str | None, request_id: str | None = None) -> list[dict[str, Any]]:
    """A unit's requests (every unit's, for staff), newest first, at most LIST_LIMIT; or one."""
    if request_id is not None:
        try:
            matcher = await bus.matcher_status(unit_id=unit_id, request_ids=[request_id])
        except ValidationError:
            return []  # not an id at all: as unknown as a missing one
    else:
        matcher = await bus.matcher_status(unit_id=unit_id, limit=LIST_LIMIT)
    ids = [r.id for r in matcher.requests]
    found = (await bus.contracts_status(request_ids=ids, with_contracts=False)).assignments if ids else []
    by_request: dict[str, list[dict[str, Any]]] = {}
    for a in found:
        by_request.setdefault(a.request_id, []).append(shown(a))
    out = []
    for request in matcher.requests:
        r = request.model_dump(mode="json")
        assignments = by_request.get(request.id, [])
        steps = timeline(r, assignments)
        out.append({**r, "assignments": assignments, "timeline": steps, "shown_status": shown_status(r, steps)})
    return out[::-1]


def shown(a: m.AssignmentView) -> dict[str, Any]:
    """An assignment as a page shows it (its JSON: dates as the templates' filters read them)."""
    return a.model_dump(mode="json")


def shown_status(r: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """The status a page shows: completed once the timeline is (the matcher hears of a completion
    a moment after the contracts service), so a page never says "accepted" beside a ticked "completed"."""
    return R.COMPLETED if steps and steps[-1]["done"] else str(r["status"])


def timeline(r: dict[str, Any], assignments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The five steps of a request, each reached or not, with when it was last moved."""
    reached = 0
    when: str | None = None
    for a in assignments:
        step = _REACHED.get(a["status"], 0)
        if step >= reached:
            reached, when = step, a.get("updated_at")
    if r["status"] == R.COMPLETED:
        reached = 4
    return [
        {"step": name, "done": i <= reached, "at": when if i == reached and i > 0 else None}
        for i, name in enumerate(STEPS)
    ]


async def history(bus: Bus, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Every decision on a request's assignments, in order, from the audit trail."""
    events = []
    for a in r["assignments"]:
        for e in await bus.audit(f"assignment:{a['id']}", limit=100):
            events.append(
                {
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "expert": a["expert_id"],
                    "actor": e.actor,
                    "note": e.detail.get("note", ""),
                }
            )
    return sorted(events, key=lambda e: e["at"])


#: Proposals per page of the board: the actions stay near the items on a phone.
PROPOSALS_PAGE = 20


async def proposals(
    bus: Bus, page: int = 1, per_page: int = PROPOSALS_PAGE, request_id: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the proposals waiting for staff (oldest first, at most LIST_LIMIT looked at),
    each with the solver's explanation from the audit trail; and how many wait in all."""
    contracts = await bus.contracts_status(
        statuses=[A.PROPOSED], limit=LIST_LIMIT, oldest_first=True, with_contracts=False
    )
    every = [a for a in contracts.assignments if request_id is None or a.request_id == request_id]
    waiting = []
    for a in every[(page - 1) * per_page : page * per_page]:
        entries = await bus.audit(f"assignment:{a.id}", limit=20)
        propose = next((e for e in entries if e.action == "propose"), None)
        waiting.append({**shown(a), "explanation": (propose.detail.get("explanation") if propose else None) or {}})
    return waiting, len(every)


async def alternatives(bus: Bus, request_id: str) -> dict[str, Any]:
    """The matcher's best few experts for one request, or why it has none (no longer open, say)."""
    try:
        found = await bus.ask(E.CANDIDATES, m.GetCandidates(request_id=request_id, limit=5))
    except rpc.Refused as err:
        return {"request_id": request_id, "candidates": [], "error": err.reply.error}
    return {**found.model_dump(mode="json"), "error": None}


def page_number(raw: str | None, pages: int) -> int:
    """A `?page=` as a page that exists: past the end the last, not a number the first."""
    try:
        return min(max(1, int(raw or "1")), max(1, pages))
    except ValueError:
        return 1


async def open_requests(bus: Bus) -> list[dict[str, Any]]:
    """The requests staff may assign by hand (waiting or unmatched), newest first, at most LIST_LIMIT."""
    status = await bus.matcher_status(statuses=list(MATCHING), limit=LIST_LIMIT)
    return [r.model_dump(mode="json") for r in status.requests][::-1]


async def contracts(bus: Bus, contract_id: str | None = None) -> list[dict[str, Any]]:
    """Every contract (or one), each with `extra_waiting`: its assignments whose expert logged
    hours beyond the reservation, waiting for staff to approve or refuse them."""
    try:
        status = await bus.contracts_status(contract_id=contract_id, extra_pending=True)
    except ValidationError:
        return []  # not an id at all: no such contract
    waiting: dict[str, list[dict[str, Any]]] = {}
    for a in status.assignments:
        if a.extra_minutes_pending:
            waiting.setdefault(a.contract_id, []).append(shown(a))
    return [{**c.model_dump(mode="json"), "extra_waiting": waiting.get(c.id, [])} for c in status.contracts]


async def expert_tasks(bus: Bus, expert_id: str) -> list[dict[str, Any]]:
    """An expert's assignments once staff approved them (a proposal is not a task yet)."""
    kept = [*GRANTED, A.DECLINED, A.CANCELLED]
    status = await bus.contracts_status(expert_id=expert_id, statuses=kept, limit=LIST_LIMIT, with_contracts=False)
    return [shown(a) for a in status.assignments][::-1]


async def audit_log(bus: Bus, limit: int = 200) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in await bus.audit(None, limit=limit)][::-1]


async def unit_coverage(bus: Bus) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in (await bus.read(E.REPORT, m.GetReport(kind="units"))).rows]


async def inbox(bus: Bus, party: str) -> dict[str, Any]:
    """A party's inbox as the page and the API show it (`InboxView`'s JSON), the shell commands
    a notification suggests left out: a person reads buttons and links, never a shell command."""
    box = await bus.read(E.INBOX, m.GetInbox(party=party, limit=100))
    return {
        **box.model_dump(mode="json"),
        "notifications": [
            {**n.model_dump(mode="json"), "body": "\n".join(x for x in n.body.splitlines() if not _COMMAND.search(x))}
            for n in box.notifications
        ],
    }


_COMMAND = re.compile(r"\bexpertshare\s+[a-z-]+\b")


def mentioned(items: list[dict[str, Any]], n: dict[str, Any], key: str = "id") -> dict[str, Any] | None:
    """The item (a task, a request, a proposal) a notification is about: the one whose id it names."""
    text = f"{n['subject']} {n['body']}"
    return next((i for i in items if re.search(rf"(?<![\w-]){re.escape(str(i[key]))}(?![\w-])", text)), None)


async def expert_record(bus: Bus, expert_id: str) -> dict[str, Any] | None:
    """The expert as registered with the contracts service (capacity, travel, remote, on site)."""
    found = next((e for e in (await bus.reference()).experts if e.id == expert_id), None)
    return found.model_dump(mode="json") if found else None
