"""`expertshare secrets init`: this installation's secrets, made where missing (never replaced).

expertshare secrets init                        # var/secrets (what `expertshare up` does on every start)
expertshare secrets init --dir /srv/es-secrets --production --host nats.example.vn
expertshare secrets table                       # who may do what on NATS, as markdown
"""

from __future__ import annotations

from pathlib import Path

import typer

from shared.security import identities, secrets_init
from shared.security.secrets import secrets_dir


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="This installation's secrets: NATS identities and their permissions.",
                        no_args_is_help=True)

    @group.command("init")
    def init(
        directory: Path | None = typer.Option(None, "--dir", help="Where (default EXPERTSHARE_SECRETS_DIR, "
                                                                  "else var/secrets)."),
        production: bool = typer.Option(False, help="Also what a cluster needs (route credentials)."),
        host: list[str] = typer.Option([], "--host", help="A name the servers are reached by (repeat)."),
    ) -> None:
        """Make what is missing (0700 directory, 0600 files); rewrite the NATS permissions from the code."""
        target = (directory or secrets_dir()).resolve()
        secrets_init.ensure(target, production=production, hosts=host)
        typer.echo(f"secrets in {target} (nats/auth.conf for nats-server; one nats/<identity>.nk per process)")

    @group.command("table")
    def table() -> None:
        """The NATS identities against the subjects each may use (markdown)."""
        typer.echo(identities.table(), nl=False)

    app.add_typer(group, name="secrets")
