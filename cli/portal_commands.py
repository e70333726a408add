"""`expertshare portal ...`: the portal's users and API tokens, written to the portal's own
database (`PORTAL_DATABASE_URL`, else var/portal.db, made 0600) — how an admin creates the first
user, and disables one (every session of theirs ends at once, their API tokens are refused)."""

from __future__ import annotations

from typing import Annotated

import typer


def _session():  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from services.portal import users
    from services.portal.settings import PortalSettings

    engine = users.engine(PortalSettings().db_url())
    users.create_schema(engine)
    return Session(engine)


def register(app: typer.Typer) -> None:
    portal = typer.Typer(help="The portal's users (commune, staff, expert, admin) and API tokens.",
                         no_args_is_help=True)
    app.add_typer(portal, name="portal")

    @portal.command("user-add")
    def user_add(
        username: str,
        role: Annotated[str, typer.Option(help="commune, staff, expert or admin")],
        password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                              envvar="EXPERTSHARE_PORTAL_PASSWORD")],
        name: Annotated[str, typer.Option(help="the name shown and written in the audit trail")] = "",
        unit: Annotated[str | None, typer.Option(help="the unit id of a commune officer")] = None,
        expert: Annotated[str | None, typer.Option(help="the expert id of an expert")] = None,
    ) -> None:
        """Create a portal user (the admin's first user, then any other)."""
        from services.portal.users import UserError, create_user

        with _session() as session:
            try:
                user = create_user(session, username=username, password=password, role=role,
                                   display_name=name, unit_id=unit, expert_id=expert)
            except UserError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
        typer.echo(f"created {user.role} {user.username}")

    @portal.command("token")
    def token(username: str, label: Annotated[str, typer.Option(help="what the token is for")] = "") -> None:
        """Issue an API token for a user (printed once; only its hash is kept)."""
        from services.portal.users import User, issue_token

        with _session() as session:
            if session.get(User, username) is None:
                typer.echo(f"error: username: no user {username!r}", err=True)
                raise typer.Exit(2)
            typer.echo(issue_token(session, username, label))

    @portal.command("token-revoke")
    def token_revoke(
        username: str,
        token: Annotated[str, typer.Option(help="the start of its SHA-256 (as /account shows); all when empty")] = "",
    ) -> None:
        """Revoke a user's API tokens: one (by the start of its SHA-256) or all."""
        from services.portal.users import User, UserError, revoke_tokens

        with _session() as session:
            if session.get(User, username) is None:
                typer.echo(f"error: username: no user {username!r}", err=True)
                raise typer.Exit(2)
            try:
                gone = revoke_tokens(session, username, token)
            except UserError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
        typer.echo(f"revoked {gone} token(s) of {username}")

    @portal.command("user-disable")
    def user_disable(username: str) -> None:
        """Disable a user: their sessions end at once, their API tokens and sign-ins are refused."""
        _set_disabled(username, True)

    @portal.command("user-enable")
    def user_enable(username: str) -> None:
        """Enable a disabled user again (their API tokens work again; they sign in anew)."""
        _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool) -> None:
    from services.portal.users import UserError, set_disabled

    with _session() as session:
        try:
            ended = set_disabled(session, username, disabled)
        except UserError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"disabled {username}: {ended} session(s) ended, API tokens refused" if disabled
               else f"enabled {username}")
