"""`expertshare portal ...`: the portal's users and API tokens, written to the portal's own
database (`PORTAL_DATABASE_URL`, else var/portal.db, made 0600) — how an admin creates the first
user, lists them, disables one (every session of theirs ends at once, their API tokens are refused),
enables them again, and resets a password. A commune officer's unit and an expert's id are checked
with the running system's contracts service first (an account bound to nothing is refused)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlmodel import Session


def _session() -> Session:
    from sqlmodel import Session

    from services.portal import users
    from services.portal.settings import PortalSettings

    engine = users.engine(PortalSettings().db_url())
    users.create_schema(engine)
    return Session(engine)


def register(app: typer.Typer) -> None:
    portal = typer.Typer(
        help="The portal's users (commune, staff, expert, admin) and API tokens.", no_args_is_help=True
    )
    app.add_typer(portal, name="portal")

    @portal.command("user-add")
    def user_add(
        username: str,
        role: Annotated[str, typer.Option(help="commune, staff, expert or admin")],
        password: Annotated[
            str,
            typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="EXPERTSHARE_PORTAL_PASSWORD"),
        ],
        name: Annotated[str, typer.Option(help="the name shown and written in the audit trail")] = "",
        unit: Annotated[str | None, typer.Option(help="the unit id of a commune officer")] = None,
        expert: Annotated[str | None, typer.Option(help="the expert id of an expert")] = None,
    ) -> None:
        """Create a portal user (the admin's first user, then any other). A commune officer's unit
        and an expert's id must be registered: they are checked with the running system."""
        from services.portal.users import UserError, create_user

        _check_binding(role, unit, expert)
        with _session() as session:
            try:
                user = create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    display_name=name,
                    unit_id=unit,
                    expert_id=expert,
                )
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

    @portal.command("user-list")
    def user_list(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
    ) -> None:
        """The portal's users: name, role, the unit or expert they are bound to, active or disabled."""
        from services.portal.users import all_users

        with _session() as session:
            rows = [
                {
                    "username": u.username,
                    "display_name": u.display_name,
                    "role": u.role,
                    "unit_id": u.unit_id,
                    "expert_id": u.expert_id,
                    "disabled": u.disabled,
                }
                for u in all_users(session)
            ]
        if as_json:
            from cli.client import dumps

            typer.echo(dumps(rows))
            return
        for u in rows:
            bound = f"unit {u['unit_id']}" if u["unit_id"] else f"expert {u['expert_id']}" if u["expert_id"] else "-"
            state = "DISABLED" if u["disabled"] else "active"
            typer.echo(f"{u['username']:<20} {u['role']:<8} {bound:<14} {state:<8} {u['display_name']}")
        typer.echo(f"{len(rows)} user(s)")

    @portal.command("user-reset")
    def user_reset(
        username: str,
        password: Annotated[
            str,
            typer.Option(
                prompt="New password", hide_input=True, confirmation_prompt=True, envvar="EXPERTSHARE_PORTAL_PASSWORD"
            ),
        ],
    ) -> None:
        """Set a user's password anew (a forgotten one): every session of theirs ends."""
        from services.portal.users import UserError, reset_password

        with _session() as session:
            try:
                ended = reset_password(session, username, password)
            except UserError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
        typer.echo(f"password of {username} reset: {ended} session(s) ended")

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
    typer.echo(
        f"disabled {username}: {ended} session(s) ended, API tokens refused" if disabled else f"enabled {username}"
    )


def _check_binding(role: str, unit: str | None, expert: str | None) -> None:
    """The unit or expert a new user is bound to, asked of the contracts service (exit 1 when it
    has no such unit or expert, or cannot be asked: a user is never bound to an unchecked id)."""
    from cli.client import ClientError, connect, run
    from services.portal.users import UserError, binding_ids, check_binding
    from shared import endpoints as E
    from shared import messages as m

    ids = binding_ids(role, unit, expert)
    if not ids:
        return

    async def ask() -> m.ReferenceData:
        async with connect() as client:
            return await client.ask(E.REFERENCE, m.GetReference(ids=ids))

    try:
        reference = run(ask())
    except ClientError as err:
        typer.echo(f"error: cannot check {ids[0]!r} with the running system, so no user was made: {err}", err=True)
        raise typer.Exit(1) from None
    try:
        check_binding(role, unit, expert, reference)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
