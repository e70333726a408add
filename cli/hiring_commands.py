"""Planning commands for the next budget: `plan-hiring` and `plan-training`, on a scenario file.

Like `solve`, they run the engine in this process; nothing is sent to a running system. Each plan
is checked by solving the merged scenario afresh, and both figures are printed when they differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from cli.client import dumps
from cli.solve_commands import _scenario
from shared.formatting import money
from shared.scenario import Scenario

if TYPE_CHECKING:
    from services.matcher.hiring.menu import Candidate

MAX_MENU_BYTES = 5_000_000

CANDIDATES_HELP = """A JSON file {"candidates": [...]} (at most 1000), each: id (letters, digits, _ . : -; at
most 50), skills ({"digital_signature": 3}), home_unit (a commune; null or left out: remote only),
hours_cap, hourly_rate_vnd; optional: name, budget_cap_vnd, languages (["vi"]), remote (true),
max_travel_minutes (120), max_concurrent (5), scope_units. Without it: a default menu from the
scenario (docs/matching.md, "Hiring and training plans")."""


def _menu(path: Path, sc: Scenario) -> list[Candidate]:
    from services.matcher.hiring.menu import MenuError, parse_menu

    def bad(msg: str) -> NoReturn:
        typer.echo(f"error: {path}: {msg}", err=True)
        raise typer.Exit(2)

    try:
        if path.stat().st_size > MAX_MENU_BYTES:
            bad(f"larger than {MAX_MENU_BYTES:,} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        bad("no such file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        bad(f"not valid JSON: {err}")
    try:
        return parse_menu(data, sc)
    except MenuError as err:
        bad(f"invalid candidates: {err}")


def _check_line(after: int, joint: int) -> str:
    if after == joint:
        return f"checked: a fresh solve of the merged scenario finds {after}, as planned"
    return (
        f"NOTE: a fresh solve of the merged scenario finds {after}; the joint model found {joint} "
        "(on a large problem it sees a subset of the options, and the fresh solve may stop short of the optimum)"
    )


def register(app: typer.Typer) -> None:
    @app.command(
        "plan-hiring",
        help=(
            "Which contracts to sign for a budget: the set of candidates that covers the most priority "
            "weight, decided together with the plan, checked by a fresh solve of the merged scenario, "
            "and compared with a simple rule.\n\n--candidates: " + CANDIDATES_HELP
        ),
    )
    def plan_hiring(
        scenario: Path,
        budget: int = typer.Option(..., min=0, max=10**15, help="What the new contracts may cost in all, in dong."),
        candidates: Path | None = typer.Option(None, help="The menu of contracts (JSON; see above)."),
        as_json: bool = typer.Option(False, "--json", help="Everything as JSON (with the records to merge)."),
        time_limit: float | None = typer.Option(
            None,
            min=0.5,
            max=3600,
            help="Seconds for the joint model (default: 1.5 x the engine's own time for the problem, at least 5).",
        ),
        compare: bool = typer.Option(True, help="Also judge the simple rule on the same budget."),
        menu_size: int = typer.Option(100, min=1, max=1000, help="Candidates of the default menu."),
        seed: int = typer.Option(0, help="Random seed of the engine."),
    ) -> None:
        from services.matcher.hiring.hiring import plan_hiring as run

        sc = _scenario(scenario)
        menu = _menu(candidates, sc) if candidates is not None else None
        plan = run(sc, budget, menu, time_limit_s=time_limit, seed=seed, compare=compare, menu_size=menu_size)
        if as_json:
            typer.echo(dumps(plan.model_dump(mode="json")))
            return
        typer.echo(
            f"covered weight {plan.covered_weight_before} -> {plan.covered_weight_after} "
            f"(+{plan.gain}) for {money(plan.cost_vnd)} of {money(plan.budget_vnd)}: "
            f"{len(plan.hires)} hire(s) from a menu of {plan.candidates} ({plan.menu})"
        )
        typer.echo(_check_line(plan.covered_weight_after, plan.joint_covered_weight))
        names = {u.id: u.name for u in sc.units}
        for h in plan.hires:
            skills = ", ".join(f"{s} {lvl}" for s, lvl in h.skills.items())
            where = f"{h.where} {names[h.where]}" if h.where in names else h.where
            typer.echo(
                f"  {h.candidate} as {h.expert}/{h.contract} ({skills}; {where}), {money(h.cost_vnd)}: "
                f"{len(h.covers.requests)} request(s), weight {h.covers.weight}"
            )
        if plan.simple_rule is not None:
            r = plan.simple_rule
            typer.echo(
                f"simple rule ({r.rule}): {len(r.hires)} hire(s) for {money(r.cost_vnd)}, covered weight "
                f"{r.covered_weight_after} (+{r.covered_weight_after - plan.covered_weight_before}); "
                f"the plan covers {plan.covered_weight_after - r.covered_weight_after} more"
            )
        typer.echo("the experts and contracts to merge into the scenario: --json")

    @app.command("plan-training")
    def plan_training(
        scenario: Path,
        budget: int = typer.Option(..., min=0, max=10**15, help="What the training may cost in all, in dong."),
        cost_per_level: int = typer.Option(
            2_000_000, min=0, max=10**12, help="Dong to raise one member one level in one skill."
        ),
        max_level: int = typer.Option(4, min=1, max=5, help="The highest level training reaches."),
        as_json: bool = typer.Option(False, "--json", help="Everything as JSON (with the records to merge)."),
        time_limit: float | None = typer.Option(None, min=0.5, max=3600, help="Seconds for the joint model."),
        seed: int = typer.Option(0, help="Random seed of the engine."),
    ) -> None:
        """Which community members to train, in which skill, to which level, to cover the most
        priority weight for a budget; checked by a fresh solve of the trained scenario."""
        from services.matcher.hiring.training import plan_training as run

        sc = _scenario(scenario)
        plan = run(
            sc, budget, cost_per_level_vnd=cost_per_level, max_level=max_level, time_limit_s=time_limit, seed=seed
        )
        if as_json:
            typer.echo(dumps(plan.model_dump(mode="json")))
            return
        typer.echo(
            f"covered weight {plan.covered_weight_before} -> {plan.covered_weight_after} "
            f"(+{plan.gain}) for {money(plan.cost_vnd)} of {money(plan.budget_vnd)}: "
            f"{len(plan.trainings)} training(s) among {plan.members} community member(s)"
        )
        typer.echo(_check_line(plan.covered_weight_after, plan.joint_covered_weight))
        for t in plan.trainings:
            typer.echo(
                f"  {t.expert} ({t.name}, {t.home_unit}): {t.skill} {t.from_level} -> {t.to_level}, "
                f"{money(t.cost_vnd)}: {len(t.covers.requests)} request(s), weight {t.covers.weight}"
            )
        typer.echo("the trained members' records, to replace theirs in the scenario: --json")
