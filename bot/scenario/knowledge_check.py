"""Pass-two checks of the ``knowledge:`` section (references, files, placeholders, ids).

Kept apart from the loader so the knowledge base's rules read in one place.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.scenario.funnel import Funnel
from bot.scenario.model import BUILTIN_FIELDS, placeholders
from bot.scenario.yaml_lines import Path as DataPath


def check_knowledge(funnel: Funnel, answer_keys: set[str]) -> Iterator[tuple[DataPath, str]]:
    """Every entry's id is unique, its ``goto`` and button targets exist, its file is there."""
    seen: set[str] = set()
    fields = BUILTIN_FIELDS | answer_keys
    for index, entry in enumerate(funnel.scenario.knowledge):
        base: DataPath = ("knowledge", index)
        if entry.id in seen:
            yield (*base, "id"), f"knowledge entry id '{entry.id}' is used twice"
        seen.add(entry.id)
        if entry.goto is not None and funnel.get(entry.goto) is None:
            yield (*base, "goto"), f"unknown step '{entry.goto}'"
        for number, button in enumerate(entry.buttons):
            if button.goto is not None and funnel.get(button.goto) is None:
                yield (*base, "buttons", number, "goto"), f"unknown step '{button.goto}'"
        for name in placeholders(entry.answer):
            if name not in fields:
                yield (*base, "answer"), f"unknown field '{{{name}}}' in the text"
        remote = entry.file is not None and entry.file.startswith(("http://", "https://"))
        if entry.file is not None and not remote and not funnel.asset(entry.file).is_file():
            yield (*base, "file"), f"file '{entry.file}' not found next to the scenario"
        if entry.goto is not None and entry.handoff:
            yield base, "an entry either continues at 'goto' or hands off, not both"


def knowledge_targets(funnel: Funnel) -> Iterator[str]:
    """Steps the knowledge base can lead to (they count as reachable)."""
    for entry in funnel.scenario.knowledge:
        if entry.goto:
            yield entry.goto
        yield from (b.goto for b in entry.buttons if b.goto)
