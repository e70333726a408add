"""`expertshare secrets init`: this installation's secrets, made where missing (never replaced).

expertshare secrets init                        # var/secrets (what `expertshare up` does on every start)
expertshare secrets init --dir /srv/es-secrets --production --host nats.example.vn
expertshare secrets table                       # who may do what on NATS, as markdown
expertshare setup                               # as the admin: streams, leaders bucket, consumers
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from shared.security import credentials, identities, secrets_init
from shared.security.secrets import secrets_dir


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="This installation's secrets: NATS identities and their permissions.", no_args_is_help=True
    )

    @group.command("init")
    def init(
        directory: Path | None = typer.Option(
            None, "--dir", help="Where (default EXPERTSHARE_SECRETS_DIR, else var/secrets)."
        ),
        production: bool = typer.Option(False, help="Also what a cluster needs (route credentials)."),
        host: list[str] = typer.Option([], "--host", help="A name the servers are reached by (repeat)."),
    ) -> None:
        """Make what is missing (0700 directory, 0600 files); rewrite the NATS permissions from the code."""
        target = (directory or secrets_dir()).resolve()
        secrets_init.ensure(target, production=production, hosts=host)
        typer.echo(f"secrets in {target} (nats/auth.conf for nats-server; one nats/<identity>.nk per process)")

    @group.command("rotate-issuer")
    def rotate_issuer(
        directory: Path | None = typer.Option(
            None, "--dir", help="Where (default EXPERTSHARE_SECRETS_DIR, else var/secrets)."
        ),
    ) -> None:
        """A new credential issuer; the current key is retired now: it admits no new command but still
        proves the audit entries signed before. Give the new issuer.pub to every service and the new
        issuer.nk to the portal, then restart them; people sign in again."""
        target = (directory or secrets_dir()).resolve()
        public = credentials.rotate_issuer(target)
        typer.echo(f"new issuer {public} in {target} (issuer.nk, issuer.pub)")

    @group.command("table")
    def table() -> None:
        """The NATS identities against the subjects each may use (markdown)."""
        typer.echo(identities.table(), nl=False)

    app.add_typer(group, name="secrets")

    @app.command("setup")
    def setup(
        replicas: int | None = typer.Option(
            None, help="Copies of each stream (default EXPERTSHARE_STREAM_REPLICAS, else 1)."
        ),
    ) -> None:
        """As the admin identity: every stream, the leaders bucket and every durable consumer, made or
        brought to this code's configuration (`up` does it before starting the services; compose's
        `setup` job in production). The services themselves may not."""
        from cli.client import nats_url
        from shared.streams import setup as setup_bus

        url = nats_url()
        asyncio.run(setup_bus(url, replicas=replicas))
        typer.echo(f"streams, leaders bucket and consumers ready on {url}")
