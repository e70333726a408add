"""Offline planning commands: `solve`, `candidates` and `generate`, on a scenario file.

They run the matcher's engine in this process (no running system needed): staff use them for
what-if questions before committing anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from cli.client import ClientError, dumps
from cli.load import read_scenario
from shared.scenario import Scenario


def _scenario(path: Path) -> Scenario:
    try:
        return read_scenario(path)
    except ClientError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def solve(
        scenario: Path,
        time_limit: float = typer.Option(10.0, help="Seconds the solver may use."),
        workers: int = typer.Option(2, help="Solver threads."),
        seed: int = typer.Option(0, help="Random seed: the same input and seed give the same plan."),
        compare: Path | None = typer.Option(None, help="An earlier plan (JSON): print what changes."),
    ) -> None:
        """Plan a scenario: one JSON plan on stdout (or, with --compare, the changes)."""
        from services.matcher.solver import Plan
        from services.matcher.solver import solve as run
        from services.matcher.solver.compare import compare as diff

        sc = _scenario(scenario)
        plan = run(sc, time_limit_s=time_limit, workers=workers, seed=seed)
        if compare is None:
            typer.echo(plan.model_dump_json(indent=2))
            return
        try:
            old = Plan.model_validate_json(compare.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            typer.echo(f"error: {compare}: not a plan: {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(dumps(diff(old, plan)))

    @app.command()
    def candidates(scenario: Path, request: str, limit: int = typer.Option(5, help="How many.")) -> None:
        """The best few experts for one request, with their score and what each would displace."""
        from services.matcher.solver.candidates import candidates as best

        sc = _scenario(scenario)
        if request not in {r.id for r in sc.requests}:
            typer.echo(f"error: request {request!r} is not in {scenario}", err=True)
            raise typer.Exit(2)
        typer.echo(dumps([c.model_dump(mode="json") for c in best(sc, request, limit=limit)]))

    @app.command()
    def generate(
        n_requests: int,
        n_experts: int,
        seed: int = 0,
        province: list[int] = typer.Option([], help="Province codes (8 = Tuyên Quang); all when empty."),
        out: Path | None = typer.Option(None, help="Write here instead of stdout."),
    ) -> None:
        """Generate a realistic scenario from real communes."""
        from scenarios.generate import generate as make

        sc = make(n_requests, n_experts, seed=seed, provinces=province or None)
        text = json.dumps(sc.model_dump(mode="json", by_alias=True), ensure_ascii=False, indent=1)
        if out is None:
            sys.stdout.write(text + "\n")
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}")
