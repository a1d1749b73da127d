"""The scenario in force, and the engine built from it."""

from __future__ import annotations

from bot.engine.engine import Engine
from bot.scenario.funnel import Funnel


class ScenarioHolder:
    """The scenario in force; swapped as a whole so a reload never serves a half-state."""

    def __init__(self, funnel: Funnel) -> None:
        self.swap(funnel)

    def swap(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.engine = Engine(funnel)
