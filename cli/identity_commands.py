"""`expertshare login`, `whoami` and `credential issue`: who the CLI acts as (`cli.identity`).

`login USER` asks the portal (over NATS, `portal.credential.issue`) to vouch for a key pair made
here: the password is checked like a portal sign-in (failures count towards its lockout), and
the credential comes back for the public key only. `credential issue` is the local admin's way,
with the issuer's seed on this machine, for a user or a script (it writes the key with it).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import identity
from cli.client import Client
from shared import endpoints as E
from shared import messages as m
from shared.security import credentials, keys


def register(app: typer.Typer, *, call: Any) -> None:
    cred_app = typer.Typer(help="Credentials: who the CLI acts as.", no_args_is_help=True)
    app.add_typer(cred_app, name="credential")

    @app.command()
    def login(
        user: str,
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    ) -> None:
        """Sign in as a portal user: a credential for 12 h, kept in ~/.config/expertshare/credential."""
        password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True)
        seed = keys.new_seed(keys.USER)

        async def ask(client: Client) -> m.IssuedCredential:
            cmd = m.IssueCredential(
                username=user, password=password, key=keys.public_key(seed), hours=credentials.CLI_HOURS
            )
            return await client.ask(E.CREDENTIAL_ISSUE, cmd)

        data = call(ask)
        path = identity.save(identity.login_path(), data.credential, seed)
        typer.echo(f"signed in as {describe(identity.load(path))}")

    @app.command()
    def logout() -> None:
        """Forget the credential of `expertshare login` (the CLI acts as the operator again, if any)."""
        path = identity.login_path()
        path.unlink(missing_ok=True)
        typer.echo(f"removed {path}")

    @app.command()
    def whoami() -> None:
        """Who the CLI acts as, and until when."""
        try:
            who = identity.required()
        except identity.IdentityError as err:  # no credential: a usage error, as for every command (status 2)
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{describe(who)} (from {who.source})")

    @cred_app.command("issue")
    def issue(
        user: Annotated[str, typer.Option("--user", help="the portal user it is for")],
        out: Annotated[Path, typer.Option("--out", help="the file to write (0600): credential and key")],
        hours: Annotated[float, typer.Option(help="how long it is valid, at most 24")] = credentials.CLI_HOURS,
    ) -> None:
        """Local admin: issue a credential for a portal user with the issuer's seed on this machine."""
        from cli.portal_commands import _session
        from services.portal.bus import claims_of
        from services.portal.users import User

        with _session() as session:
            found = session.get(User, user)
        if found is None:
            typer.echo(f"error: user: no portal user {user!r}", err=True)
            raise typer.Exit(2)
        seed = keys.new_seed(keys.USER)
        try:
            cred = credentials.issue(
                credentials.issuer_seed(), key=keys.public_key(seed), channel="cli", hours=hours, **claims_of(found)
            )
        except (credentials.Refused, ValueError) as err:
            typer.echo(f"error: {getattr(err, 'reason', err)}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"issued to {describe(identity.load(identity.save(out, cred, seed)))} in {out}")


def describe(who: identity.Identity) -> str:
    c = who.claims
    until = dt.datetime.fromtimestamp(c.exp, dt.UTC).isoformat(timespec="minutes")
    return f"{c.person} ({c.name or c.person}), {c.role}, {c.party}, via {c.channel}, until {until}"
