"""A validated scenario, indexed for the engine: every step by id, and where it sits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.scenario.model import AnyStep, Scenario, Segment, step_kind
from bot.scenario.translations import language_of

INTERVIEW = "interview"


@dataclass(frozen=True, slots=True)
class Placed:
    """A step with its id and its place in a chain."""

    id: str
    step: AnyStep
    chain: str
    index: int

    @property
    def path(self) -> str:
        if self.chain == INTERVIEW:
            return f"interview[{self.index}]"
        return f"funnels.{self.chain}[{self.index}]"


@dataclass(slots=True)
class Funnel:
    """The engine's read-only view of a scenario file."""

    scenario: Scenario
    path: Path
    version: str
    timezone: ZoneInfo
    steps: dict[str, Placed] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    #: The same funnel in other languages (checked by ``bot.scenario.translations``).
    translations: dict[str, Funnel] = field(default_factory=dict)

    @classmethod
    def build(cls, scenario: Scenario, path: Path, source_text: str, tz: ZoneInfo) -> Funnel:
        version = hashlib.sha256(source_text.encode()).hexdigest()[:12]
        funnel = cls(scenario=scenario, path=path, version=version, timezone=tz)
        chains = {INTERVIEW: scenario.interview, **scenario.funnels}
        for chain, steps in chains.items():
            ids = []
            for index, step in enumerate(steps):
                step_id = auto_id(step.id, chain, index)
                funnel.steps.setdefault(step_id, Placed(step_id, step, chain, index))
                ids.append(step_id)
            funnel.chains[chain] = ids
        return funnel

    def for_language(self, code: str | None) -> Funnel:
        """The file a prospect with Telegram ``language_code`` reads; the main one by default."""
        return self.translations.get(language_of(code), self)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def start(self) -> str:
        return self.chains[INTERVIEW][0]

    def get(self, step_id: str | None) -> Placed | None:
        return self.steps.get(step_id) if step_id else None

    def following(self, step_id: str) -> str | None:
        """The step after ``step_id`` in its chain, if any."""
        placed = self.steps[step_id]
        ids = self.chains[placed.chain]
        return ids[placed.index + 1] if placed.index + 1 < len(ids) else None

    def segment(self, segment_id: str | None) -> Segment | None:
        return self.scenario.segments.get(segment_id) if segment_id else None

    def chain_of(self, segment_id: str) -> str:
        segment = self.scenario.segments[segment_id]
        return segment.funnel or segment_id

    @property
    def fallback_segment(self) -> str:
        return next(k for k, s in self.scenario.segments.items() if s.fallback)

    @property
    def segment_order(self) -> list[str]:
        """Segments from the hottest to the coldest, as listed in the file."""
        return list(self.scenario.segments)

    def asset(self, relative: str) -> Path:
        return (self.base_dir / relative).resolve()

    def answer_keys(self) -> dict[str, str]:
        """Answer key -> the question's text, in interview order."""
        keys: dict[str, str] = {}
        for placed in self.steps.values():
            kind = placed.step.kind
            if kind == "question":
                keys[placed.step.key or placed.id] = placed.step.question  # type: ignore[union-attr]
        return keys


def auto_id(explicit: str | None, chain: str, index: int) -> str:
    return explicit or f"{chain}-{index + 1}"


def raw_auto_id(raw: object, chain: str, index: int) -> str:
    explicit = raw.get("id") if isinstance(raw, dict) else None
    return auto_id(explicit if isinstance(explicit, str) else None, chain, index)


__all__ = ["INTERVIEW", "Funnel", "Placed", "auto_id", "raw_auto_id", "step_kind"]
