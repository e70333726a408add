"""Home-affairs staff's commands beyond approve/reject: assign by hand, a contract's lifecycle,
extra hours, and the reports.

expertshare assign r-0042 --expert e3 --contract c3 [--force --reason "..."]
expertshare contract suspend c3 --reason "invoice dispute"   # also activate, resume, terminate, expire
expertshare contract resume c3
expertshare hours approve a-1f2e3d        # or refuse, for hours past the reservation
(as the signed-in staff member: `expertshare login`, or the machine's operator)
expertshare report contracts|units|experts [--csv | --json]
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli import identity
from cli.client import Client, dumps
from cli.views import hours
from shared import endpoints as E
from shared import messages as m
from shared.csvcells import neutral
from shared.formatting import money
from shared.statuses import AssignmentStatus as A

BY_HELP = "A comment naming you; who acts is the signed-in person (expertshare whoami)."

console = Console()


def print_decisions(data: m.BatchDecided) -> None:
    """One line per assignment of a batch decision; refusals on stderr."""
    for r in data.results:
        if not r.ok:
            typer.echo(f"{r.assignment_id} refused: {r.error}", err=True)
        elif data.decision == "approve":
            typer.echo(
                f"{r.assignment_id} approved: {hours(r.reserved_minutes or 0)} and "
                f"{money(r.reserved_vnd, '-')} reserved"
            )
        else:
            typer.echo(f"{r.assignment_id} rejected")
    if data.refused:
        raise typer.Exit(1)


async def _outcome(client: Client, request_id: str, assignment_id: str, wait_s: float = 15.0) -> dict[str, Any]:
    """The contracts service approves a manual assignment as it arrives, or the ledger refuses it."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        q = m.GetContractsStatus(request_ids=[request_id], with_contracts=False)
        rows = (await client.ask(E.CONTRACTS_STATUS, q)).assignments
        found = next((a for a in rows if a.id == assignment_id and a.status != A.PROPOSED), None)
        if found:
            return {"id": found.id, "status": found.status, "note": found.note}
        await asyncio.sleep(0.2)
    return {"id": assignment_id, "status": A.PROPOSED, "note": "not yet decided by the contracts service"}


def table(rows: list[dict[str, Any]], title: str) -> None:
    t = Table(title=title)
    cols = list(rows[0]) if rows else []
    for col in cols:
        t.add_column(col)
    for r in rows:
        t.add_row(*["" if r[c] is None else f"{r[c]:g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    console.print(t)


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: neutral(v) for k, v in r.items()} for r in rows)
    return out.getvalue()


def register(app: typer.Typer, *, call: Callable[..., Any], build: Callable[..., Any]) -> None:
    contract_app = typer.Typer(help="Home-affairs staff: a contract's lifecycle.", no_args_is_help=True)
    hours_app = typer.Typer(help="Home-affairs staff: hours logged past the reservation.", no_args_is_help=True)
    app.add_typer(contract_app, name="contract")
    app.add_typer(hours_app, name="hours")

    @app.command()
    def assign(
        request: str,
        expert: str = typer.Option(...),
        contract: str = typer.Option(...),
        by: str | None = typer.Option(None, help=BY_HELP),
        slot: int = 0,
        force: bool = typer.Option(False, help="Override a broken rule (never a contract's terms)."),
        reason: str = typer.Option("", help="Why: required with --force."),
    ) -> None:
        """Assign an expert by hand: the solver's rules are checked, then it is approved at once."""
        cmd = build(
            m.AssignManually,
            request_id=request,
            slot=slot,
            expert_id=expert,
            contract_id=contract,
            by=identity.option(identity.by, by),
            force=force,
            reason=reason,
        )

        async def work(client: Client) -> tuple[m.ManualAssignment, dict[str, Any]]:
            done = await client.ask(E.ASSIGNMENT_ASSIGN, cmd)
            return done, await _outcome(client, cmd.request_id, done.assignment_id)

        done, outcome = call(work)
        if done.violations:
            typer.echo(f"forced past: {'; '.join(done.violations)}")
        typer.echo(
            f"{done.assignment_id}: {expert} for request {request}{f' (expert {slot + 1})' if slot else ''} "
            f"under {contract}, "
            f"{done.mode}, {hours(done.minutes)}: {outcome['status']}"
            + (f" ({outcome['note']})" if outcome["status"] != A.APPROVED and outcome.get("note") else "")
        )
        if outcome["status"] != A.APPROVED:
            raise typer.Exit(1)

    def move(contract_id: str, to: str, by: str | None, reason: str) -> None:
        cmd = build(
            m.ChangeContractStatus, contract_id=contract_id, to=to, by=identity.option(identity.by, by), reason=reason
        )
        d = call(lambda c: c.ask(E.CONTRACT_STATUS_CHANGE, cmd))
        extra = f"; {d.cancelled_assignments} open assignment(s) cancelled" if d.cancelled_assignments else ""
        typer.echo(f"contract {d.contract_id} is {d.status}{extra}")

    @contract_app.command("activate")
    def activate(contract_id: str, by: str | None = typer.Option(None, help=BY_HELP)) -> None:
        """A draft becomes active: it can be given work."""
        move(contract_id, "active", by, "")

    @contract_app.command("resume")
    def resume(contract_id: str, by: str | None = typer.Option(None, help=BY_HELP), reason: str = "") -> None:
        """A suspended contract is active again (or exhausted, if nothing is left)."""
        move(contract_id, "active", by, reason)

    @contract_app.command("suspend")
    def suspend(
        contract_id: str, reason: str = typer.Option(...), by: str | None = typer.Option(None, help=BY_HELP)
    ) -> None:
        """No new work under it; agreed work goes on."""
        move(contract_id, "suspended", by, reason)

    @contract_app.command("terminate")
    def terminate(
        contract_id: str, reason: str = typer.Option(...), by: str | None = typer.Option(None, help=BY_HELP)
    ) -> None:
        """End it for good: work not done yet is cancelled and its reservation released."""
        move(contract_id, "terminated", by, reason)

    @contract_app.command("expire")
    def expire(today: str | None = typer.Option(None, help="YYYY-MM-DD; the service's date if unset.")) -> None:
        """Expire every contract past its last day now (the service also does it by itself)."""
        d = call(lambda c: c.ask(E.CONTRACTS_EXPIRE, build(m.ExpireContracts, today=today)))
        typer.echo(f"expired: {', '.join(d.expired) or 'none'} (today {d.today})")

    def extra(assignment: str, approve: bool, by: str | None, comment: str) -> m.ExtraHoursDecided:
        cmd = build(
            m.DecideExtraHours,
            assignment_id=assignment,
            approve=approve,
            by=identity.option(identity.by, by),
            comment=comment,
        )
        decided: m.ExtraHoursDecided = call(lambda c: c.ask(E.EXTRA_HOURS_DECIDE, cmd))
        return decided

    @hours_app.command("approve")
    def hours_approve(assignment: str, comment: str = "", by: str | None = typer.Option(None, help=BY_HELP)) -> None:
        """Charge the extra hours to the contract (its caps must still hold)."""
        d = extra(assignment, True, by, comment)
        typer.echo(f"{assignment}: {hours(d.approved_minutes)} extra approved, {money(d.cost_vnd, '-')}")

    @hours_app.command("refuse")
    def hours_refuse(assignment: str, comment: str = "", by: str | None = typer.Option(None, help=BY_HELP)) -> None:
        """Refuse the extra hours: they are not charged."""
        d = extra(assignment, False, by, comment)
        typer.echo(f"{assignment}: {hours(d.refused_minutes)} extra refused")

    @app.command()
    def report(
        kind: str = typer.Argument(..., help="contracts, units or experts"),
        as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout."),
        as_json: bool = typer.Option(False, "--json", help="JSON on stdout."),
    ) -> None:
        """The province's reports: per contract, per unit or per expert."""
        q = build(m.GetReport, kind=kind)
        data: m.Report = call(lambda c: c.ask(E.REPORT, q, timeout=60))
        rows = [r.model_dump(mode="json") for r in data.rows]
        if as_csv:
            typer.echo(csv_text(rows), nl=False)
        elif as_json:
            typer.echo(dumps(rows))
        else:
            table(rows, f"{kind} ({data.today})")
