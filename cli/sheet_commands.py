"""`expertshare sheets import|export`: the staff's CSV sheets of units, experts and contracts.

An import is all or nothing: every bad cell of every sheet is reported (file, row, column) and
nothing is sent; a sheet that reads well is sent as one registration, which the contracts
service applies in one transaction or refuses whole, naming the row and column at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import identity
from cli.client import Client, ClientError
from shared import endpoints as E
from shared import messages as m
from shared import rpc
from shared import sheets as fmt
from shared.sheets import message


def _paths(directory: Path | None, units: Path | None, experts: Path | None, contracts: Path | None) -> dict[str, Path]:
    given = {"units": units, "experts": experts, "contracts": contracts}
    if directory is not None:
        for kind in given:
            if given[kind] is None and (directory / f"{kind}.csv").exists():
                given[kind] = directory / f"{kind}.csv"
    return {k: p for k, p in given.items() if p is not None}


async def send(client: Client, read: fmt.Sheets, cmd: m.RegisterReference) -> m.Registered:
    size = len(cmd.model_dump_json(by_alias=True).encode())
    if size > client.nc.max_payload:
        raise ClientError(
            f"the sheets make {size:,} bytes, more than the {client.nc.max_payload:,} one "
            "message may carry; import them in parts (units, then experts, then contracts)"
        )
    reply = await client.call(E.REFERENCE_REGISTER.subject, cmd, timeout=120)
    if reply.ok:
        return rpc.read(E.REFERENCE_REGISTER, reply)
    where = [fmt.field_to_cell(read, f.field) for f in reply.field_errors]
    raise ClientError(
        "nothing was imported: "
        + "; ".join(
            f"{w}: {f.message}" if w else f"{f.field}: {f.message}"
            for w, f in zip(where, reply.field_errors, strict=True)
        )
        if where
        else f"nothing was imported: {reply.error}"
    )


def register(app: typer.Typer, *, call: Callable[..., Any]) -> None:
    sheets_app = typer.Typer(
        help="Home-affairs staff: import and export the CSV sheets (docs/sheets.md).", no_args_is_help=True
    )
    app.add_typer(sheets_app, name="sheets")

    @sheets_app.command("import")
    def import_(
        directory: Annotated[
            Path | None, typer.Argument(help="A folder with units.csv, experts.csv, contracts.csv.")
        ] = None,
        units: Path | None = None,
        experts: Path | None = None,
        contracts: Path | None = None,
        by: str | None = typer.Option(None, help="A comment naming you; the audit trail keeps who signed."),
    ) -> None:
        """Import units, experts and contracts: all of it, or nothing with every error named."""
        paths = _paths(directory, units, experts, contracts)
        if not paths:
            typer.echo("error: no sheet given (a folder, or --units/--experts/--contracts)", err=True)
            raise typer.Exit(2)
        read = fmt.read(paths)
        if read.errors:
            for line in read.errors:
                typer.echo(f"error: {line}", err=True)
            typer.echo(f"nothing was imported: {len(read.errors)} error(s)", err=True)
            raise typer.Exit(2)
        done = call(lambda c: send(c, read, message(read, identity.option(identity.by, by))))
        typer.echo(f"imported {done.units} units, {done.experts} experts, {done.contracts} contracts")

    @sheets_app.command("export")
    def export(directory: Path) -> None:
        """Write units.csv, experts.csv and contracts.csv (with each contract's status)."""
        data: m.ReferenceData = call(lambda c: c.ask(E.REFERENCE, m.GetReference(), timeout=60))
        records = {
            "units": [u.model_dump(mode="json", by_alias=True) for u in data.units],
            "experts": [e.model_dump(mode="json") for e in data.experts],
            "contracts": [c.model_dump(mode="json") for c in data.contracts],
        }
        counts = fmt.write(directory, records)
        typer.echo(", ".join(f"{n} {k}" for k, n in counts.items()) + f" written to {directory}")
