"""How the CLI shows things to people: tables, money in Vietnamese format, readable events."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shared import messages as m
from shared.csvcells import neutral
from shared.formatting import hm as hours
from shared.formatting import money, stamp
from shared.statuses import AssignmentStatus as Status
from shared.statuses import RequestStatus

console = Console()


def status_json(data: dict[str, Any]) -> dict[str, Any]:
    """`expertshare status --json`: the matcher's requests and waiting proposals (a
    `MatcherStatus`), the contracts service's assignments and balances, the counts of both."""
    matcher: m.MatcherStatus = data["matcher"]
    contracts: m.ContractsStatus = data["contracts"]
    return {
        "requests": [r.model_dump(mode="json") for r in matcher.requests],
        "proposals": [p.model_dump(mode="json") for p in matcher.proposals if Status(p.status) == Status.PROPOSED],
        "assignments": [a.model_dump(mode="json") for a in contracts.assignments],
        "contracts": [c.model_dump(mode="json") for c in contracts.contracts],
        "counts": {**contracts.counts.model_dump(), **matcher.counts.model_dump()},
        "truncated": bool(matcher.truncated or contracts.truncated),
    }


def natural(text: str) -> tuple[Any, ...]:
    """A sort key that reads the numbers in ids as numbers: c0, c1, c2, ..., c10 (not c0, c1, c10)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _table(title: str, columns: tuple[str, ...]) -> Table:
    """A table without rules (two spaces between columns): 80 columns hold it."""
    t = Table(title=title, box=None, padding=(0, 1), pad_edge=False)
    for col in columns:
        t.add_column(col, no_wrap=True)
    return t


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def print_status(data: dict[str, Any], *, verbose: bool = False) -> None:
    """Three tables, one line per row at 80 columns: a long reason is cut with '…' (whole with
    --verbose, below the table, or in --json)."""
    view = status_json(data)
    rows = [
        [
            r["id"],
            r["unit"],
            str(r["priority"]),
            f"{r['hours']:g}",
            r["mode"],
            r["deadline"],
            r["status"],
            r["reason"] if r["status"] == RequestStatus.UNMATCHED else "",
        ]
        for r in view["requests"]
    ]
    heads = ("id", "unit", "prio", "hours", "mode", "deadline", "status", "why")
    used = sum(max([len(heads[i]), *(len(row[i]) for row in rows)]) + 2 for i in range(len(heads) - 1))
    room = max(12, console.width - used - 1)
    t = _table("Requests", heads)
    for row in rows:
        t.add_row(*row[:-1], _cut(row[-1], room))
    console.print(t)
    reasons = [(row[0], row[-1]) for row in rows if len(row[-1]) > room]
    if verbose:
        for rid, why in reasons:
            console.print(f"{rid}: {why}", soft_wrap=True, markup=False)
    elif reasons:
        console.print("(a reason cut short with … is whole with --verbose or --json)")
    contracts: m.ContractsStatus = data["contracts"]
    t = _table("Assignments", ("id", "request", "expert", "contract", "mode", "hours", "cost", "status"))
    for a in contracts.assignments:
        if a.status == Status.WITHDRAWN:
            continue
        t.add_row(
            a.id, a.request_id, a.expert_id, a.contract_id, a.mode, hours(a.minutes), money(a.cost_vnd, "-"), a.status
        )
    console.print(t)
    t = _table(
        "Contract balances", ("contract", "status", "expert", "cap h", "used", "resv", "left", "budget left", "active")
    )
    for c in sorted(contracts.contracts, key=lambda c: natural(c.id)):
        t.add_row(
            c.id,
            c.status,
            c.expert_id,
            f"{c.hours_cap:g}",
            f"{c.hours_used:g}",
            f"{c.hours_reserved:g}",
            f"{c.hours_left:g}",
            money(c.budget_left_vnd, "-"),
            f"{c.active_assignments}/{c.max_concurrent}",
        )
    console.print(t)
    if view["truncated"]:
        console.print(
            f"the newest {len(view['requests'])} of {view['counts']['requests']} requests shown: see --limit and --unit"
        )


def print_inbox(party: str, data: m.InboxView) -> None:
    items = data.notifications
    console.print(f"[bold]{party}[/bold]: {len(items)} notifications, {data.unread} unread")
    for n in items:
        mark = " " if n.read else "*"
        console.print(f"{mark} {stamp(n.created_at)}  [bold]{n.subject}[/bold]")
        for line in n.body.splitlines():
            console.print(f"    {line}")


def event_line(subject: str, e: dict[str, Any]) -> str | None:
    """One readable line for the events `expertshare up` shows as they happen."""
    kind = subject.split(".", 1)[1]
    if kind == "assignment.proposed":
        r = e["request"]
        return (
            f"proposed  {e['assignment_id']}: {e['expert_name']} -> {r['unit']} «{r['title']}» "
            f"{e['mode']} {e['minutes'] / 60:.1f} h {money(e['cost_vnd'], '-')} (priority {r['priority']})"
        )
    if kind == "request.unmatched":
        return f"unmatched {e['request_id']}: {e['reason']}"
    if kind in (
        "assignment.approved",
        "assignment.rejected",
        "assignment.accepted",
        "assignment.declined",
        "assignment.cancelled",
    ):
        return f"{kind.split('.')[1]:9} {e['assignment_id']}: {e['expert_id']} for {e['request_id']}"
    if kind == "hours.logged":
        return f"logged    {e['assignment_id']}: {hours(e['minutes'])} ({money(e['cost_vnd'], '-')})"
    if kind == "request.completed":
        return f"completed {e['request_id']}"
    return None


AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "before",
    "after",
    "detail",
    "correlation_id",
    "prev_hash",
    "hash",
)


def write_audit_csv(path: Path, entries: list[m.AuditEntry]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(AUDIT_COLUMNS)
        for e in entries:
            row = e.model_dump(mode="json", include=set(AUDIT_COLUMNS))
            w.writerow(
                [
                    neutral(json.dumps(row[c], ensure_ascii=False) if isinstance(row[c], dict) else row[c])
                    for c in AUDIT_COLUMNS
                ]
            )


def print_audit(entries: list[m.AuditEntry]) -> None:
    t = Table(title="Audit trail")
    for col in ("#", "when (UTC)", "who", "what", "on", "change", "contract line"):
        t.add_column(col)
    for e in entries:
        line = e.detail.get("contract_line")
        change = f"{e.before.get('status', '')} -> {e.after.get('status', '')}" if e.before else ""
        t.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%dT%H:%M:%S}",
            e.actor,
            e.action,
            e.subject,
            change,
            f"{line['contract']}: {hours(line['minutes'])}, {money(line['vnd'], '-')}" if line else "",
        )
    console.print(t)
