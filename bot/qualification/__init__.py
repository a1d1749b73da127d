"""Placing a lead in a segment: the offline scorer, the LLM, and the operator's rules."""

from __future__ import annotations

from typing import Protocol

from bot.engine.types import Classified
from bot.qualification.offline import classify_offline
from bot.qualification.routing import route
from bot.scenario.funnel import Funnel


class Qualifier(Protocol):
    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified: ...


class OfflineQualifier:
    """Scores answers against the scenario; no key, no network, same answer every time."""

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        return route(funnel, classify_offline(funnel, answers), answers, apply_threshold=False)


__all__ = ["OfflineQualifier", "Qualifier"]
