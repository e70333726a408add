"""`expertshare`: the command line of all three kinds of users, speaking to the system over NATS.

Every command here is a thin translation: arguments to a message, the reply to a line (or JSON).

Exit status, the same for every command (`tests/integration/test_cli_views.py` holds them to it):
  0  done;
  1  refused by the system: a service said no (an unknown unit, a cap, a decision taken before),
     or could not be asked (the system is not running, a service did not answer);
  2  a usage error, found before anything is sent: a bad or missing option, a value out of range,
     an unreadable file, no credential to act with (`expertshare login`).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.progress import Progress

from cli import (
    gaps_commands,
    hiring_commands,
    identity,
    identity_commands,
    notify_commands,
    portal_commands,
    secrets_commands,
    sheet_commands,
    solve_commands,
    staff_commands,
    views,
)
from cli.client import Client, ClientError, connect, dumps, run
from shared import endpoints as E
from shared import messages as m
from shared.endpoints import Endpoint
from shared.parties import STAFF

app = typer.Typer(
    help="expertshare: IT experts for communes, under the limits of their contracts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
request_app = typer.Typer(help="Commune officers: submit and follow support requests.", no_args_is_help=True)
app.add_typer(request_app, name="request")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def call(work: Callable[[Client], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with connect() as client:
            return await work(client)

    try:
        return run(go())
    except ClientError as err:
        fail(str(err))


def build(model: type[m.Message], **fields: Any) -> m.Message:
    try:
        return model(**fields)
    except ValidationError as err:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()), 2)
        raise  # unreachable: fail raises


R = TypeVar("R", bound=BaseModel)
BY_HELP = "A comment naming you; who acts is the signed-in person (expertshare whoami)."
EXPERT_HELP = "Your expert id; taken from your credential (expertshare whoami) when left out."


def me(given: str | None) -> str:
    """`--by`: the signed-in person (a different name given is an error, not an alias)."""
    return identity.option(identity.by, given)


def my_expert_id(given: str | None) -> str:
    return identity.option(identity.expert_id, given)


def ask(endpoint: Endpoint[Any, R], message: m.Message) -> R:
    """The endpoint's reply model; a refusal or an absent service ends the command with its reason."""
    reply: R = call(lambda c: c.ask(endpoint, message))
    return reply


def command(endpoint: Endpoint[Any, R], message: m.Message, done: Callable[[R], str]) -> None:
    """Send a command and print what `done` makes of its reply model."""
    typer.echo(done(ask(endpoint, message)))


# ------------------------------------------------------------------ running the system
@app.command()
def up(
    demo: bool = typer.Option(True, help="Load the Tuyen Quang demo when the system is empty."),
    nats_port: int = typer.Option(4222, envvar="EXPERTSHARE_NATS_PORT", help="Port of the embedded NATS."),
) -> None:
    """Start NATS (unless NATS_URL is set) and every service; Ctrl-C stops them all."""
    from cli.up import up as start

    sys.exit(start(demo=demo, nats_port=nats_port))


class ProgressLines:
    """The load's progress as lines on stderr (`progress 1200 of 27642: submitting requests`): at
    each stage, at most once a second between, and at the end."""

    def __init__(self, total: int, every_s: float = 1.0) -> None:
        self.total, self.every_s = total, every_s
        self.done, self.stage, self.last = 0, "", 0.0

    def __call__(self, advance: int, stage: str | None = None) -> None:
        import time

        self.done += advance
        now = time.monotonic()
        if stage or now - self.last >= self.every_s or self.done >= self.total:
            self.stage = stage or self.stage
            self.last = now
            typer.echo(f"progress {self.done} of {self.total}: {self.stage}", err=True)


@app.command()
def load(scenario: Path) -> None:
    """Load a scenario (units, experts, contracts, requests) into the running system."""
    from cli.load import load as send
    from cli.load import read_scenario, total_steps

    try:
        sc = read_scenario(scenario)
    except ClientError as err:
        fail(str(err), 2)

    async def work(client: Client) -> dict[str, Any]:
        if not sys.stderr.isatty():  # a script or a log: a line per second and per stage, not a bar
            return await send(client, sc, ProgressLines(total_steps(sc)))
        with Progress(transient=True) as progress:
            task = progress.add_task("loading", total=total_steps(sc))

            def step(advance: int, stage: str | None = None) -> None:
                progress.update(task, advance=advance, description=stage or None)

            return await send(client, sc, step)

    result = call(work)
    typer.echo(
        f"loaded {result['units']} units, {result['experts']} experts, "
        f"{result['contracts']} contracts, {result['requests']} requests"
    )
    for line in result["refused"]:
        typer.echo(f"refused {line}", err=True)
    if result["refused"]:
        raise typer.Exit(1)


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    limit: int = typer.Option(200, min=1, max=10_000, help="The newest this many requests and assignments."),
    unit: str | None = typer.Option(
        None,
        help="Only this unit's requests and assignments, and the contracts "
        "that can serve it (their scope includes it, or they have none).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every unmatched reason whole, below the table."),
    health: bool = typer.Option(
        False,
        "--health",
        help="Is it healthy (this machine's services): each service "
        "ready or not, consumer backlogs, outbox lag, dead letters, the last plan. "
        "Exit status 1 when a service is not ready.",
    ),
) -> None:
    """Requests, proposals, assignments and contract balances (the newest; the counts are whole).
    One line per row: a long reason is cut short (whole with --verbose or --json)."""
    if health:
        from cli import health as checkup

        found = checkup.collect()
        typer.echo(dumps(found) if as_json else "\n".join(checkup.lines(found)))
        raise typer.Exit(0 if found["healthy"] else 1)

    async def work(client: Client) -> dict[str, Any]:
        return {
            "matcher": await client.ask(E.MATCHER_STATUS, m.GetRequests(limit=limit, unit_id=unit)),
            "contracts": await client.ask(E.CONTRACTS_STATUS, m.GetContractsStatus(limit=limit, unit_id=unit)),
        }

    data = call(work)
    if as_json:
        typer.echo(dumps(views.status_json(data)))
    else:
        views.print_status(data, verbose=verbose)


# ------------------------------------------------------------------ commune officers
@request_app.command("submit")
def request_submit(
    id: str = typer.Option(..., "--id", help="A new request id, e.g. r-2026-0042."),
    unit: str = typer.Option(..., help="Your commune's unit id."),
    title: str = typer.Option(..., help="What is needed, in a few words."),
    skill: list[str] = typer.Option(..., help="skill=min level (1..5), repeatable: digital_signature=2"),
    mode: str = typer.Option("either", help="onsite, remote or either."),
    hours: float = typer.Option(..., help="Hours of work needed."),
    priority: int = typer.Option(3, help="1 (can wait) to 5 (most urgent)."),
    deadline: str = typer.Option(..., help="By when, YYYY-MM-DD."),
    language: str | None = typer.Option(None, help="A language the expert must speak (e.g. dao)."),
    trainee: bool = typer.Option(
        False,
        "--trainee",
        help="Also take a community member of your commune as a "
        "trainee beside the expert, when one is free (the skill stays in the commune).",
    ),
    by: str | None = typer.Option(None, help=BY_HELP),
) -> None:
    """Submit a support request."""
    skills: dict[str, Any] = {}
    for item in skill:
        name, _, level = item.partition("=")
        skills[name.strip()] = level.strip() or "1"
    req = dict(
        id=id,
        unit=unit,
        title=title,
        skills=skills,
        mode=mode,
        hours=hours,
        priority=priority,
        deadline=deadline,
        language=language,
        trainee=trainee,
    )
    cmd = build(m.SubmitRequest, request=req, by=me(by))
    command(E.REQUEST_SUBMIT, cmd, lambda d: f"request {d.request_id} submitted ({d.status})")


@request_app.command("cancel")
def request_cancel(request_id: str, by: str | None = typer.Option(None, help=BY_HELP), reason: str = "") -> None:
    """Cancel a request: whatever it reserved is released."""
    cmd = build(m.CancelRequest, request_id=request_id, by=me(by), reason=reason)
    command(E.REQUEST_CANCEL, cmd, lambda d: f"request {d.request_id} cancelled")


@app.command()
def complete(
    request_id: str, by: str | None = typer.Option(None, help=BY_HELP), rating: int | None = None, comment: str = ""
) -> None:
    """Commune: confirm that the help was given."""
    cmd = build(m.CompleteRequest, request_id=request_id, by=me(by), rating=rating, comment=comment)
    command(E.REQUEST_COMPLETE, cmd, lambda d: f"request {d.request_id} completed")


# ------------------------------------------------------------------ home-affairs staff
@app.command()
def approve(assignment: list[str], by: str | None = typer.Option(None, help=BY_HELP), comment: str = "") -> None:
    """Approve one or more proposed assignments (a batch, each on its own): hours and budget are reserved."""
    cmd = build(m.DecideAssignments, assignment_ids=assignment, decision="approve", by=me(by), comment=comment)
    staff_commands.print_decisions(call(lambda c: c.ask(E.ASSIGNMENTS_DECIDE, cmd, timeout=60)))


@app.command()
def reject(assignment: list[str], by: str | None = typer.Option(None, help=BY_HELP), reason: str = "") -> None:
    """Reject proposed assignments: the requests go back to matching without those experts."""
    cmd = build(m.DecideAssignments, assignment_ids=assignment, decision="reject", by=me(by), comment=reason)
    staff_commands.print_decisions(call(lambda c: c.ask(E.ASSIGNMENTS_DECIDE, cmd, timeout=60)))


# ------------------------------------------------------------------ experts
@app.command()
def accept(assignment: str, expert: str | None = typer.Option(None, help=EXPERT_HELP)) -> None:
    """Expert: accept an approved task."""
    cmd = build(m.AcceptAssignment, assignment_id=assignment, expert_id=my_expert_id(expert))
    command(E.ASSIGNMENT_ACCEPT, cmd, lambda d: f"{d.assignment_id} accepted")


@app.command()
def decline(assignment: str, expert: str | None = typer.Option(None, help=EXPERT_HELP), reason: str = "") -> None:
    """Expert: decline a task; the request is matched again without you."""
    cmd = build(m.DeclineAssignment, assignment_id=assignment, expert_id=my_expert_id(expert), reason=reason)
    command(E.ASSIGNMENT_DECLINE, cmd, lambda d: f"{d.assignment_id} declined")


@app.command("log-hours")
def log_hours(
    assignment: str,
    expert: str | None = typer.Option(None, help=EXPERT_HELP),
    hours: float = typer.Option(...),
    note: str = "",
) -> None:
    """Expert: log hours worked on a task."""
    cmd = build(m.LogHours, assignment_id=assignment, expert_id=my_expert_id(expert), hours=hours, note=note)
    command(E.HOURS_LOG, cmd, lambda d: f"{d.assignment_id}: {views.hours(d.logged_minutes)} logged in all")


@app.command()
def inbox(
    party: str = typer.Argument(..., help=f"expert:<id>, unit:<id> or {STAFF}"),
    unread: bool = typer.Option(False, help="Only unread notifications."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A party's notifications."""
    q = build(m.GetInbox, party=party, unread_only=unread)
    data = ask(E.INBOX, q)
    if as_json:
        typer.echo(dumps(data.model_dump(mode="json")))
    else:
        views.print_inbox(party, data)


audit_app = typer.Typer(help="Home-affairs staff: the tamper-evident audit trail.")
app.add_typer(audit_app, name="audit")


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    subject: str | None = typer.Option(None, help="Only one thing, e.g. assignment:a-1f2e3d."),
    csv: Path | None = typer.Option(None, help="Write the trail to this CSV file."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Print the audit trail (or export it as CSV)."""
    if ctx.invoked_subcommand:
        return
    q = build(m.GetAudit, subject=subject)
    entries = call(lambda c: c.ask(E.AUDIT, q, timeout=60)).entries
    if csv is not None:
        views.write_audit_csv(csv, entries)
        typer.echo(f"wrote {len(entries)} entries to {csv}")
    elif as_json:
        typer.echo(dumps([e.model_dump(mode="json") for e in entries]))
    else:
        views.print_audit(entries)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain and check every signature: any edited or deleted entry, and any
    decision not proven to be its person's, is reported (exit status 1)."""
    data = call(lambda c: c.ask(E.AUDIT_VERIFY, m.VerifyAudit(), timeout=120))
    counts = (
        f"{data.signed} signed by their person, {data.system} by the system, "
        f"{data.unsigned_before_signing} unsigned (before signing)"
    )
    if data.intact:
        typer.echo(f"audit trail intact: {data.entries} entries; {counts}")
        return
    for problem in data.problems:
        typer.echo(f"TAMPERED: {problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("input")
def audit_input(sha256: str, out: Annotated[Path | None, typer.Option(help="Write the scenario here.")] = None) -> None:
    """The scenario the solver planned from, by the digest an audit entry carries (checked)."""
    import hashlib

    def piece(offset: int) -> m.PlanInputView:
        q = build(m.GetPlanInput, sha256=sha256, offset=offset)
        view: m.PlanInputView = call(lambda c: c.ask(E.PLAN_INPUT, q, timeout=60))
        return view

    data = piece(0)
    parts = [data.scenario]
    while data.next_offset:  # larger than one message: read on
        data = piece(data.next_offset)
        parts.append(data.scenario)
    scenario = "".join(parts)
    if hashlib.sha256(scenario.encode()).hexdigest() != sha256:
        fail(f"the stored input does not match its digest {sha256}: it was altered")
    if out is None:
        typer.echo(scenario)
    else:
        out.write_text(scenario, encoding="utf-8")
        typer.echo(f"wrote the {data.status} plan's input ({data.created_at[:19]}) to {out}; digest checked")


solve_commands.register(app)
hiring_commands.register(app)
notify_commands.register(app, call=call, build=build)
staff_commands.register(app, call=call, build=build)
gaps_commands.register(app, call=call)
sheet_commands.register(app, call=call)
portal_commands.register(app)
secrets_commands.register(app)
identity_commands.register(app, call=call)

if __name__ == "__main__":
    app()
