"""Operators' commands: the scenario's JSON Schema, scenario tests, the funnel's picture, eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.operator.graph import GraphvizMissing, render, to_dot, to_mermaid
from bot.operator.scenario_tests import run_tests, tests_path_for
from bot.operator.schema import scenario_schema
from bot.scenario.loader import load_funnel
from bot.settings import Settings
from cli.common import fail, run, scenario_or_exit, settings_or_exit
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import step_groups


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
    settings = settings_or_exit()
    target = scenario or settings.scenario
    funnel = scenario_or_exit(settings, target)
    test_file = tests or tests_path_for(target)
    if not test_file.exists():
        fail(f"no scenario tests at {test_file}", 1)
    try:
        report = run_tests(funnel, test_file)
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
    settings = settings_or_exit()
    funnel = scenario_or_exit(settings, scenario)
    kind = (fmt or output.suffix.lstrip(".") or "svg").lower()
    kind = {"mmd": "mermaid", "gv": "dot"}.get(kind, kind)
    if kind not in {"svg", "png", "dot", "mermaid"}:
        fail(f"unknown format {kind!r}: use svg, png, dot or mermaid")
    counts = _reach(settings.database_url) if reach else None
    if kind == "mermaid":
        output.write_text(to_mermaid(funnel, counts), encoding="utf-8")
    elif kind == "dot":
        output.write_text(to_dot(funnel, counts), encoding="utf-8")
    else:
        try:
            output.write_bytes(render(to_dot(funnel, counts), kind))
        except GraphvizMissing as exc:
            fail(str(exc))
    typer.echo(f"wrote {output}")


def _reach(database_url: str) -> dict[str, int]:
    reach: dict[str, int] = {}

    async def count() -> None:
        db = Database(database_url)
        try:
            await db.upgrade()
            async with db.session() as session:
                groups = await step_groups(session, LeadFilter())
            for group in groups:  # a lead has one source and segment: the sums are exact
                reach[group.step] = reach.get(group.step, 0) + group.leads
        finally:
            await db.close()

    run(count())
    return reach


def eval_(
    data: Annotated[
        Path | None, typer.Argument(help="Labelled examples: one JSON object a line.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the offline classifier even with a key.")
    ] = False,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file.")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Examples classified at once.")] = 4,
    knowledge: Annotated[
        Path | None,
        typer.Option(
            "--knowledge",
            metavar="FILE",
            help='Instead: knowledge-base routing on {"text", "expected": id|"none"} lines.',
        ),
    ] = None,
) -> None:
    """Score the classifier on labelled examples: accuracy, F1, confusion, fallbacks, cost."""
    settings = settings_or_exit(scenario=scenario)
    if knowledge is not None:
        _eval_knowledge(settings, knowledge, offline=offline)
        return
    if data is None:
        fail("error: give a labelled file (or --knowledge FILE)")
    # Lazy on purpose: the eval report imports openai and rich tables, heavy for `--help`.
    from bot.qualification import OfflineQualifier
    from bot.qualification.configured import make_qualifier
    from bot.qualification.evaluate import EvalDataError
    from bot.qualification.llm import LLMQualifier
    from bot.qualification.report import run_eval

    async def main(path: Path) -> None:
        qualifier = OfflineQualifier() if offline else make_qualifier(settings)
        if not offline and not isinstance(qualifier, LLMQualifier):
            typer.echo("OPENAI_API_KEY is not set: evaluating the offline classifier.")
        try:
            funnel = load_funnel(settings.scenario, settings.timezone)
            await run_eval(funnel, qualifier, path, jobs=jobs, source=str(settings.scenario))
        finally:
            if isinstance(qualifier, LLMQualifier):
                await qualifier.aclose()

    try:
        run(main(data))
    except EvalDataError as exc:
        fail(f"error: {exc}")


def _eval_knowledge(settings: Settings, path: Path, *, offline: bool) -> None:
    """``eval --knowledge``: the knowledge base's routing on labelled questions."""
    # Lazy for the same reason as above: the model librarian imports openai.
    from bot.knowledge.configured import make_librarian
    from bot.knowledge.evaluate import KnowledgeDataError
    from bot.knowledge.librarian import Librarian, OfflineLibrarian
    from bot.knowledge.report import run_knowledge_eval

    async def main() -> None:
        librarian: Librarian = OfflineLibrarian() if offline else make_librarian(settings)
        local = isinstance(librarian, OfflineLibrarian)
        name = "offline" if local else f"LLM {settings.openai_model}"
        try:
            funnel = load_funnel(settings.scenario, settings.timezone)
            await run_knowledge_eval(
                funnel, librarian, path, name=name, source=str(settings.scenario)
            )
        finally:
            close = getattr(librarian, "aclose", None)
            if close is not None:
                await close()

    try:
        run(main())
    except KnowledgeDataError as exc:
        fail(f"error: {exc}")


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("test-scenario")(test_scenario)
    app.command("graph")(graph)
    app.command("eval")(eval_)
