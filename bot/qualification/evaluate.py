"""``leadbot eval``: run a classifier over labelled examples and score it.

The data is JSON lines, one example a line: ``{"answers": {...}}`` or ``{"text": "..."}`` (both
may be given), ``"expected": "<segment id>"`` and an optional ``"note"``. A bad line stops the
run with its number, because a silently skipped example would skew every number after it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from bot.engine.types import Classified
from bot.qualification import Qualifier
from bot.scenario.funnel import Funnel
from bot.scenario.model import QuestionStep

FREE_TEXT_KEY = "text"
FALLBACK_PATH = "offline_fallback"


class EvalDataError(Exception):
    """A labelled example is malformed; the message is one line naming the file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    answers: dict[str, str]
    expected: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Prediction:
    example: Example
    result: Classified

    @property
    def correct(self) -> bool:
        return self.result.segment == self.example.expected


def free_text_key(funnel: Funnel) -> str:
    """Where a bare ``text`` example goes: the scenario's one typed-answer question, if any."""
    keys = [
        placed.step.key or placed.id
        for placed in funnel.steps.values()
        if isinstance(placed.step, QuestionStep) and placed.step.accepts_text
    ]
    return keys[0] if len(set(keys)) == 1 else FREE_TEXT_KEY


def load_examples(path: Path, funnel: Funnel) -> list[Example]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{path}: cannot read: {exc}") from None
    examples = []
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                examples.append(_example(json.loads(raw), number, funnel))
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            except ValueError as exc:
                raise EvalDataError(f"{path}:{number}: {exc}") from None
    if not examples:
        raise EvalDataError(f"{path}: no examples")
    return examples


def _example(data: Any, number: int, funnel: Funnel) -> Example:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    unknown = set(data) - {"answers", "text", "expected", "note"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r} (answers, text, expected, note)")
    expected = data.get("expected")
    segments = funnel.scenario.segments
    if not isinstance(expected, str) or expected not in segments:
        raise ValueError(f"'expected' must be one of the segments: {', '.join(segments)}")
    answers = data.get("answers", {})
    if not isinstance(answers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in answers.items()
    ):
        raise ValueError("'answers' must be an object of strings")
    keys = funnel.answer_keys()
    for key in answers:
        if key not in keys:
            raise ValueError(f"unknown answer key {key!r} (the scenario has: {', '.join(keys)})")
    answers = dict(answers)
    text = data.get("text")
    if text is not None:
        target = free_text_key(funnel)
        if not isinstance(text, str) or target in answers:
            raise ValueError(f"'text' must be a string, and '{target}' not also in 'answers'")
        answers[target] = text
    if not any(value.strip() for value in answers.values()):
        raise ValueError("needs 'answers' or 'text'")
    note = data.get("note", "")
    if not isinstance(note, str):
        raise ValueError("'note' must be a string")
    return Example(number, answers, expected, note)


async def predict(
    funnel: Funnel, qualifier: Qualifier, examples: list[Example], jobs: int = 4
) -> list[Prediction]:
    """Classify every example, ``jobs`` at a time (the order of the results is kept)."""
    gate = asyncio.Semaphore(jobs)

    async def one(example: Example) -> Prediction:
        async with gate:
            return Prediction(example, await qualifier.qualify(funnel, example.answers))

    return list(await asyncio.gather(*(one(e) for e in examples)))


@dataclass(frozen=True, slots=True)
class SegmentScore:
    segment: str
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


@dataclass(slots=True)
class Report:
    labels: list[str]
    total: int
    accuracy: float
    macro_f1: float
    segments: list[SegmentScore]
    confusion: Counter[tuple[str, str]]
    paths: Counter[str]
    errors: Counter[str]
    flags: Counter[str]
    fallback_segment_share: float
    misses: list[Prediction] = field(default_factory=list)
    latency_ms: float | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None

    @property
    def model_failure_share(self) -> float:
        return self.paths[FALLBACK_PATH] / self.total


def score(funnel: Funnel, predictions: list[Prediction]) -> Report:
    """Accuracy, per-segment precision/recall/F1, and macro-F1 over the segments that occur."""
    total = len(predictions)
    confusion = Counter((p.example.expected, p.result.segment) for p in predictions)
    expected = Counter(p.example.expected for p in predictions)
    predicted = Counter(p.result.segment for p in predictions)
    labels = [s for s in funnel.segment_order if expected[s] or predicted[s]]
    rows = []
    for label in labels:
        hits = confusion[(label, label)]
        precision = hits / predicted[label] if predicted[label] else 0.0
        recall = hits / expected[label] if expected[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(SegmentScore(label, expected[label], predicted[label], precision, recall, f1))
    details = [p.result.details for p in predictions]
    return Report(
        labels=labels,
        total=total,
        accuracy=sum(p.correct for p in predictions) / total,
        macro_f1=fmean(r.f1 for r in rows),
        segments=rows,
        confusion=confusion,
        paths=Counter(str(d.get("path", "?")) for d in details),
        errors=Counter(str(d["error"]) for d in details if d.get("error")),
        flags=Counter(flag for p in predictions for flag in p.result.flags),
        fallback_segment_share=predicted[funnel.fallback_segment] / total,
        misses=[p for p in predictions if not p.correct],
        latency_ms=_mean(details, "latency_ms"),
        prompt_tokens=_mean(details, "prompt_tokens"),
        completion_tokens=_mean(details, "completion_tokens"),
    )


def _mean(details: list[dict[str, Any]], key: str) -> float | None:
    values = [d[key] for d in details if isinstance(d.get(key), int | float)]
    return fmean(values) if values else None
