"""Placing a lead in a segment: the offline scorer, the LLM, and the operator's rules."""

from __future__ import annotations

from typing import Protocol

from bot.engine.types import Classified
from bot.qualification.injection import INJECTION_SUSPECTED, detect_injection
from bot.qualification.offline import classify_offline
from bot.qualification.routing import route
from bot.scenario.funnel import Funnel


class Qualifier(Protocol):
    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified: ...


class OfflineQualifier:
    """Scores answers against the scenario; no key, no network, same answer every time.

    Injection attempts cannot sway a keyword scorer, but they are flagged all the same so a
    manager sees them whichever classifier is configured.
    """

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        flags = (INJECTION_SUSPECTED,) if detect_injection(answers) else ()
        decision = classify_offline(funnel, answers)
        return route(funnel, decision, answers, apply_threshold=False, flags=flags)


__all__ = ["OfflineQualifier", "Qualifier"]
