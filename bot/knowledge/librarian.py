"""Who picks the knowledge-base entry for a question: offline retrieval, or the model.

The service calls ``look_up`` for the engine's ``AskKnowledge`` and hands the ``Looked``
back to the engine, as it does with classification: the engine stays pure.
"""

from __future__ import annotations

import time
from typing import Protocol

from bot.engine.types import AskKnowledge, Looked
from bot.knowledge.retrieval import best_entry
from bot.scenario.funnel import Funnel


class Librarian(Protocol):
    async def look_up(self, funnel: Funnel, ask: AskKnowledge) -> Looked: ...


def look_up_offline(funnel: Funnel, ask: AskKnowledge, path: str = "offline") -> Looked:
    """The offline pick: the best-overlapping entry, or none below the threshold."""
    started = time.monotonic()
    best = best_entry(list(funnel.scenario.knowledge), ask.text)
    return Looked(
        entry=best.entry if best else None,
        path=path,
        confidence=best.score if best else 0.0,
        length=len(ask.text),
        latency_ms=round((time.monotonic() - started) * 1000),
        asked=ask.asked,
    )


class OfflineLibrarian:
    """No key, no network: retrieval over the entries' example phrasings."""

    async def look_up(self, funnel: Funnel, ask: AskKnowledge) -> Looked:
        return look_up_offline(funnel, ask)
