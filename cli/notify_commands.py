"""`expertshare notifications`: what could not be delivered, sending it again, preferences, read.

expertshare notifications --failed            # email/webhook sends given up on, with the reason
expertshare notifications retry 12 15         # send those again (or --all)
expertshare notifications prefs expert:e3 --channel email --email e3@example.vn --language en
expertshare notifications read expert:e3      # mark the inbox read (or some ids)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.client import dumps
from shared import endpoints as E
from shared import messages as m
from shared.statuses import DeliveryStatus

console = Console()


def print_deliveries(rows: list[m.DeliveryView]) -> None:
    t = Table(title=f"Deliveries ({len(rows)})")
    for col in ("id", "party", "channel", "kind", "status", "tries", "why", "subject"):
        t.add_column(col)
    for d in rows:
        t.add_row(
            d.id,
            d.party,
            d.channel,
            d.kind,
            d.status,
            str(d.attempts),
            d.last_error[:80],
            d.subject[:60],
        )
    console.print(t)


def describe(p: m.PreferencesView) -> str:
    secret = "set" if p.webhook_secret_set else "none"
    return (
        f"{p.party}: channels {', '.join(p.channels)}; language {p.language}; "
        f"email {p.email or '-'}; webhook {p.webhook_url or '-'} (secret {secret}); "
        f"{'daily digest' if p.digest else 'one message per event'}"
    )


def register(app: typer.Typer, *, call: Callable[..., Any], build: Callable[..., m.Message]) -> None:
    notes = typer.Typer(help="Email and webhook deliveries: failures, retries, preferences.")
    app.add_typer(notes, name="notifications")

    @notes.callback(invoke_without_command=True)
    def notifications(
        ctx: typer.Context,
        failed: bool = typer.Option(False, "--failed", help="Only what could not be delivered."),
        party: str | None = typer.Option(None, help="Only one party's, e.g. expert:e3."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List email and webhook deliveries, newest first."""
        if ctx.invoked_subcommand:
            return
        q = build(m.GetDeliveries, status=DeliveryStatus.FAILED if failed else None, party=party)
        rows: list[m.DeliveryView] = call(lambda c: c.ask(E.DELIVERIES, q)).deliveries
        if as_json:
            typer.echo(dumps([d.model_dump(mode="json") for d in rows]))
        else:
            print_deliveries(rows)

    @notes.command("retry")
    def retry(
        ids: Annotated[list[str] | None, typer.Argument(help="Delivery ids from `notifications --failed`.")] = None,
        all_: bool = typer.Option(False, "--all", help="Every failed delivery."),
    ) -> None:
        """Send failed deliveries again, with fresh tries."""
        cmd = build(m.RetryDeliveries, delivery_ids=ids or [], all=all_)
        data: m.RetriedDeliveries = call(lambda c: c.ask(E.DELIVERIES_RETRY, cmd))
        typer.echo(f"{len(data.retried)} deliveries queued again: {', '.join(data.retried) or '-'}")

    @notes.command("read")
    def read(
        party: str = typer.Argument(..., help="expert:<id>, unit:<id> or staff:<name>"),
        ids: Annotated[list[str] | None, typer.Argument(help="Notification ids; none: all.")] = None,
    ) -> None:
        """Mark a party's inbox notifications read (`expertshare inbox` shows them starred)."""
        cmd = build(m.MarkRead, party=party, notification_ids=ids or [])
        data: m.MarkedRead = call(lambda c: c.ask(E.INBOX_MARK_READ, cmd))
        typer.echo(f"{data.marked} notifications marked read")

    @notes.command("prefs")
    def prefs(
        party: str = typer.Argument(..., help="expert:<id>, unit:<id> or staff:<name>"),
        channel: Annotated[
            list[str] | None,
            typer.Option(help="inbox, email, webhook (repeatable); replaces the list."),
        ] = None,
        language: str | None = typer.Option(None, help="vi (default) or en."),
        email: str | None = typer.Option(None, help="Email address ('' clears it)."),
        webhook_url: str | None = typer.Option(None, help="Where webhook POSTs go."),
        webhook_secret: str | None = typer.Option(None, help="HMAC-SHA256 secret, at least 16 characters."),
        digest: bool | None = typer.Option(None, "--digest/--no-digest", help="One daily digest instead."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show a party's preferences, or change the ones given."""
        changes = dict(
            channels=channel or None,
            language=language,
            email=email,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            digest=digest,
        )
        if all(v is None for v in changes.values()):
            q = build(m.GetPreferences, party=party)
            data: m.PreferencesView = call(lambda c: c.ask(E.PREFERENCES, q))
        else:
            cmd = build(m.SetPreferences, party=party, **changes)
            data = call(lambda c: c.ask(E.PREFERENCES_SET, cmd))
        typer.echo(dumps(data.model_dump(mode="json")) if as_json else describe(data))
