"""How the CLI shows things to people: tables, money in Vietnamese format, readable events."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.csvcells import neutral

console = Console()


def hours(minutes: int) -> str:
    """460 -> '7 h 40', 480 -> '8 h': whole minutes, never '7.66667 h'."""
    h, m = divmod(int(minutes), 60)
    return f"{h} h {m:02d}" if m else f"{h} h"


def dong(vnd: int | None) -> str:
    """1500000 -> '1.500.000 ₫' (Vietnamese grouping)."""
    if vnd is None:
        return "-"
    return f"{vnd:,} ₫".replace(",", ".")


def status_json(data: dict[str, Any]) -> dict[str, Any]:
    matcher, contracts = data["matcher"], data["contracts"]
    return {
        "requests": matcher["requests"],
        "proposals": [p for p in matcher["proposals"] if p["status"] == "pending"],
        "assignments": contracts["assignments"],
        "contracts": contracts["contracts"],
        "counts": {**contracts["counts"], **matcher["counts"]},
        "truncated": bool(matcher.get("truncated") or contracts.get("truncated")),
    }


def print_status(data: dict[str, Any]) -> None:
    view = status_json(data)
    t = Table(title="Requests")
    for col in ("id", "unit", "priority", "hours", "mode", "deadline", "status", "why"):
        t.add_column(col)
    for r in view["requests"]:
        t.add_row(r["id"], r["unit"], str(r["priority"]), f"{r['hours']:g}", r["mode"], r["deadline"],
                  r["status"], r["reason"] if r["status"] == "unmatched" else "")
    console.print(t)
    t = Table(title="Assignments")
    for col in ("id", "request", "expert", "contract", "mode", "hours", "cost", "status"):
        t.add_column(col)
    for a in view["assignments"]:
        if a["status"] in ("withdrawn",):
            continue
        t.add_row(a["id"], a["request_id"], a["expert_id"], a["contract_id"], a["mode"],
                  hours(a["minutes"]), dong(a["cost_vnd"]), a["status"])
    console.print(t)
    t = Table(title="Contract balances")
    for col in ("contract", "status", "expert", "hours cap", "used", "reserved", "left", "budget left", "active"):
        t.add_column(col)
    for c in view["contracts"]:
        t.add_row(c["id"], c.get("status", ""), c["expert_id"], f"{c['hours_cap']:g}", f"{c['hours_used']:g}",
                  f"{c['hours_reserved']:g}", f"{c['hours_left']:g}", dong(c["budget_left_vnd"]),
                  f"{c['active_assignments']}/{c['max_concurrent']}")
    console.print(t)
    if view["truncated"]:
        console.print(f"the newest {len(view['requests'])} of {view['counts']['requests']} requests shown: "
                      "see --limit and --unit")


def print_inbox(party: str, data: dict[str, Any]) -> None:
    items = data.get("notifications", [])
    console.print(f"[bold]{party}[/bold]: {len(items)} notifications, {data.get('unread', 0)} unread")
    for n in items:
        mark = " " if n.get("read") else "*"
        console.print(f"{mark} {n['created_at'][:16]}  [bold]{n['subject']}[/bold]")
        for line in n["body"].splitlines():
            console.print(f"    {line}")


def event_line(subject: str, e: dict[str, Any]) -> str | None:
    """One readable line for the events `expertshare up` shows as they happen."""
    kind = subject.split(".", 1)[1]
    if kind == "assignment.proposed":
        r = e["request"]
        return (f"proposed  {e['assignment_id']}: {e['expert_name']} -> {r['unit']} «{r['title']}» "
                f"{e['mode']} {e['minutes'] / 60:.1f} h {dong(e['cost_vnd'])} (priority {r['priority']})")
    if kind == "request.unmatched":
        return f"unmatched {e['request_id']}: {e['reason']}"
    if kind in ("assignment.approved", "assignment.rejected", "assignment.accepted",
                "assignment.declined", "assignment.cancelled"):
        return f"{kind.split('.')[1]:9} {e['assignment_id']}: {e['expert_id']} for {e['request_id']}"
    if kind == "hours.logged":
        return f"logged    {e['assignment_id']}: {hours(e['minutes'])} ({dong(e['cost_vnd'])})"
    if kind == "request.completed":
        return f"completed {e['request_id']}"
    return None


AUDIT_COLUMNS = ("seq", "at", "actor", "action", "subject", "before", "after", "detail", "correlation_id",
                 "prev_hash", "hash")


def write_audit_csv(path: Path, entries: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(AUDIT_COLUMNS)
        for e in entries:
            w.writerow([neutral(json.dumps(e[c], ensure_ascii=False) if isinstance(e[c], dict) else e[c])
                        for c in AUDIT_COLUMNS])


def print_audit(entries: list[dict[str, Any]]) -> None:
    t = Table(title="Audit trail")
    for col in ("#", "when (UTC)", "who", "what", "on", "change", "contract line"):
        t.add_column(col)
    for e in entries:
        line = e["detail"].get("contract_line")
        change = f"{e['before'].get('status', '')} -> {e['after'].get('status', '')}" if e["before"] else ""
        t.add_row(str(e["seq"]), e["at"][:19], e["actor"], e["action"], e["subject"], change,
                  f"{line['contract']}: {hours(line['minutes'])}, {dong(line['vnd'])}" if line else "")
    console.print(t)
