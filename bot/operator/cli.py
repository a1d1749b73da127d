"""Operators' commands: the scenario's JSON Schema, scenario tests, and the funnel's picture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.operator.graph import GraphvizMissing, render, to_dot, to_mermaid
from bot.operator.scenario_tests import run_tests, tests_path_for
from bot.scenario.loader import ScenarioError, load_funnel
from bot.scenario.model import Scenario


def _funnel(path: Path | None) -> tuple[object, Path]:
    from bot.cli import fail, settings_or_exit

    settings = settings_or_exit()
    target = path or settings.scenario
    try:
        return load_funnel(target, settings.timezone), target
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail("the scenario has errors; fix them first (leadbot validate)", 1)


def scenario_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "leadbot scenario",
    }


def schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Write the JSON Schema of the scenario format (for editor autocompletion)."""
    text = json.dumps(scenario_schema(), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def test_scenario(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario (default: SCENARIO).")] = None,
    tests: Annotated[
        Path | None, typer.Option(help="Test file (default: <scenario>.tests.yaml).")
    ] = None,
) -> None:
    """Play the expected conversations beside a scenario through the real engine."""
    from bot.cli import fail

    funnel, target = _funnel(scenario)
    test_file = tests or tests_path_for(target)
    if not test_file.exists():
        fail(f"no scenario tests at {test_file}", 1)
    try:
        report = run_tests(funnel, test_file)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc), 1)
    for name in report.passed:
        typer.echo(f"ok    {name}")
    for failure in report.failures:
        typer.echo(f"FAIL  {test_file}:{failure.line} {failure}")
    typer.echo(f"{len(report.passed)} passed, {len(report.failures)} failed")
    if report.failures:
        raise typer.Exit(1)


def graph(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario (default: SCENARIO).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path(
        "funnel.svg"
    ),
    fmt: Annotated[
        str | None, typer.Option("--format", help="svg, png, dot or mermaid (default: by suffix)")
    ] = None,
    reach: Annotated[bool, typer.Option(help="Write each step's reach from the lead log.")] = False,
) -> None:
    """Draw the funnel: segments, chains, branches, waits and offers."""
    from bot.cli import fail

    funnel, _ = _funnel(scenario)
    kind = (fmt or output.suffix.lstrip(".") or "svg").lower()
    kind = {"mmd": "mermaid", "gv": "dot"}.get(kind, kind)
    if kind not in {"svg", "png", "dot", "mermaid"}:
        fail(f"unknown format {kind!r}: use svg, png, dot or mermaid")
    counts = _reach(funnel) if reach else None
    if kind == "mermaid":
        output.write_text(to_mermaid(funnel, counts), encoding="utf-8")  # type: ignore[arg-type]
    elif kind == "dot":
        output.write_text(to_dot(funnel, counts), encoding="utf-8")  # type: ignore[arg-type]
    else:
        try:
            output.write_bytes(render(to_dot(funnel, counts), kind))  # type: ignore[arg-type]
        except GraphvizMissing as exc:
            fail(str(exc))
    typer.echo(f"wrote {output}")


def _reach(funnel: object) -> dict[str, int]:
    import asyncio

    from bot.cli import settings_or_exit
    from storage.db import Database
    from storage.queries import LeadFilter, step_groups

    settings = settings_or_exit()

    async def count() -> dict[str, int]:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            async with db.session() as session:
                groups = await step_groups(session, LeadFilter())
            reach: dict[str, int] = {}
            for group in groups:  # a lead has one source and segment: the sums are exact
                reach[group.step] = reach.get(group.step, 0) + group.leads
            return reach
        finally:
            await db.close()

    return asyncio.run(count())


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("test-scenario")(test_scenario)
    app.command("graph")(graph)
