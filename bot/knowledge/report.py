"""The body of ``leadbot eval --knowledge``: load, look every question up, score, print."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from bot.knowledge.evaluate import KnowledgeScore, lines, read_examples, score
from bot.knowledge.librarian import Librarian
from bot.scenario.funnel import Funnel


async def run_knowledge_eval(
    funnel: Funnel,
    librarian: Librarian,
    data: Path,
    *,
    name: str,
    source: str = "",
    console: Console | None = None,
) -> KnowledgeScore:
    """Score ``librarian`` on the labelled file; the caller builds and closes it."""
    console = console or Console()
    examples = read_examples(data, funnel)
    result = await score(funnel, librarian, examples)
    console.print(f"{funnel.scenario.name} ({source}) · {name} · {data}")
    for line in lines(result):
        console.print(line, highlight=False)
    return result
