"""``leadbot eval``: classify the labelled examples and print the scores as tables (rich)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.qualification import OfflineQualifier
from bot.qualification.configured import make_qualifier
from bot.qualification.evaluate import Report, load_examples, predict, score
from bot.qualification.llm import LLMQualifier
from bot.scenario.loader import load_funnel
from bot.settings import Settings


def render(report: Report, console: Console, title: str) -> None:
    console.print(f"[bold]{title}[/bold]")
    console.print(_summary(report))
    console.print(_per_segment(report))
    console.print(_confusion(report))
    if report.misses:
        console.print(_misses(report))
    console.print(
        f"accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f} "
        f"over {report.total} examples"
    )


def _summary(report: Report) -> Table:
    table = Table(title="Summary", show_header=False, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("examples", str(report.total))
    table.add_row("accuracy", f"{report.accuracy:.1%}")
    table.add_row("macro-F1", f"{report.macro_f1:.3f}")
    table.add_row("placed in the fallback segment", f"{report.fallback_segment_share:.1%}")
    table.add_row("model failed, offline decided", f"{report.model_failure_share:.1%}")
    table.add_row("paths", _counts(report.paths))
    if report.errors:
        table.add_row("errors", _counts(report.errors))
    if report.flags:
        table.add_row("flags", _counts(report.flags))
    if report.latency_ms is not None:
        table.add_row("mean latency", f"{report.latency_ms:.0f} ms")
    if report.prompt_tokens is not None:
        table.add_row("mean prompt tokens", f"{report.prompt_tokens:.0f}")
    if report.completion_tokens is not None:
        table.add_row("mean completion tokens", f"{report.completion_tokens:.0f}")
    return table


def _per_segment(report: Report) -> Table:
    table = Table(title="Per segment", title_justify="left")
    for name in ("segment", "expected", "predicted", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    for row in report.segments:
        table.add_row(
            row.segment,
            str(row.support),
            str(row.predicted),
            f"{row.precision:.2f}",
            f"{row.recall:.2f}",
            f"{row.f1:.2f}",
        )
    return table


def _confusion(report: Report) -> Table:
    table = Table(title="Confusion (rows: expected, columns: predicted)", title_justify="left")
    table.add_column("expected \\ predicted")
    for label in report.labels:
        table.add_column(label, justify="right")
    for expected in report.labels:
        cells = []
        for predicted in report.labels:
            count = report.confusion[(expected, predicted)]
            text = str(count) if count else "·"
            cells.append(f"[bold green]{text}[/]" if expected == predicted and count else text)
        table.add_row(expected, *cells)
    return table


def _misses(report: Report) -> Table:
    table = Table(title="Misses", title_justify="left")
    for name in ("line", "expected", "got", "path", "note"):
        table.add_column(name, overflow="fold")
    for miss in report.misses:
        table.add_row(
            str(miss.example.line),
            miss.example.expected,
            miss.result.segment,
            str(miss.result.details.get("path", "")),
            miss.example.note[:80],
        )
    return table


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


async def run_eval(
    settings: Settings, data: Path, *, offline: bool, jobs: int, console: Console | None = None
) -> Report:
    """The body of ``leadbot eval``: load, classify, score, print."""
    console = console or Console()
    funnel = load_funnel(settings.scenario, settings.timezone)
    examples = load_examples(data, funnel)
    qualifier = OfflineQualifier() if offline else make_qualifier(settings)
    if isinstance(qualifier, LLMQualifier):
        name = f"LLM {settings.openai_model}"
    else:
        name = "offline"
        if not offline:
            console.print("OPENAI_API_KEY is not set: evaluating the offline classifier.")
    try:
        predictions = await predict(funnel, qualifier, examples, jobs=jobs)
    finally:
        if isinstance(qualifier, LLMQualifier):
            await qualifier.aclose()
    report = score(funnel, predictions)
    title = f"{funnel.scenario.name} ({settings.scenario}) · {name} · {data}"
    render(report, console, title)
    return report
