"""The body of ``leadbot eval --knowledge``: load, look every question up, score, print."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from bot.knowledge.evaluate import KnowledgeScore, lines, read_examples, score
from bot.knowledge.librarian import Librarian, OfflineLibrarian
from bot.settings import Settings


async def run_knowledge_eval(
    settings: Settings, data: Path, *, offline: bool, console: Console | None = None
) -> KnowledgeScore:
    from bot.app import load_scenario, make_librarian

    console = console or Console()
    funnel = load_scenario(settings)
    examples = read_examples(data, funnel)
    librarian: Librarian = OfflineLibrarian() if offline else make_librarian(settings)
    name = "offline" if isinstance(librarian, OfflineLibrarian) else f"LLM {settings.openai_model}"
    try:
        result = await score(funnel, librarian, examples)
    finally:
        close = getattr(librarian, "aclose", None)
        if close is not None:
            await close()
    console.print(f"{funnel.scenario.name} ({settings.scenario}) · {name} · {data}")
    for line in lines(result):
        console.print(line, highlight=False)
    return result
