"""``leadbot eval --knowledge``: how well questions are routed to knowledge-base entries.

The worst error is answering an off-topic question as if the base knew it, so besides accuracy
the report gives the precision of "answered" and counts such false answers apart.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine.offscript import looks_like_question
from bot.engine.types import AskKnowledge
from bot.knowledge.librarian import Librarian
from bot.scenario.funnel import Funnel

NONE = "none"


class KnowledgeDataError(Exception):
    """The labelled file cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    text: str
    expected: str  # an entry id or "none"
    lang: str | None = None  # the question's language; measured on that language's scenario


@dataclass(slots=True)
class KnowledgeScore:
    total: int = 0
    correct: int = 0
    answered: int = 0  # picked an entry
    answered_right: int = 0
    false_answers: int = 0  # expected none, an entry was picked
    missed: int = 0  # expected an entry, none was picked
    paths: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    latency_ms: list[int] = field(default_factory=list)
    tokens: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        """Of the questions answered from the base, how many got the right entry."""
        return self.answered_right / self.answered if self.answered else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "answered_precision": round(self.precision, 4),
            "false_answers": self.false_answers,
            "missed": self.missed,
            "paths": dict(self.paths),
            "tokens": self.tokens,
            "confusion": [
                {"expected": e, "got": g, "times": n}
                for (e, g), n in sorted(self.confusion.items())
                if e != g
            ],
        }


def read_examples(
    path: Path, funnel: Funnel, by_language: Mapping[str, Funnel] | None = None
) -> list[Example]:
    """``{"text": ..., "expected": id | "none", "lang": ...}`` a line; bad lines named at once.

    A line with a ``lang`` is checked against that language's scenario in ``by_language``
    (``funnel`` when there is none, or no ``lang``).
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    examples, problems = [], []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        text, expected, lang = (
            (item.get("text"), item.get("expected"), item.get("lang"))
            if isinstance(item, dict)
            else (None, None, None)
        )
        if not isinstance(text, str) or not text.strip() or not isinstance(expected, str):
            problems.append(f'{path}:{number}: needs "text" and "expected" strings')
        elif lang is not None and not isinstance(lang, str):
            problems.append(f'{path}:{number}: "lang" is a language code such as "ru" or "en"')
        elif expected not in _known(funnel_for(funnel, by_language, lang)):
            where = f"the {lang} scenario" if lang else "the scenario"
            problems.append(f"{path}:{number}: no knowledge entry '{expected}' in {where}")
        else:
            examples.append(Example(number, text, expected, lang))
    if problems:
        raise KnowledgeDataError("\n".join(problems))
    if not examples:
        raise KnowledgeDataError(f"{path}: no examples")
    return examples


def funnel_for(
    funnel: Funnel, by_language: Mapping[str, Funnel] | None, lang: str | None
) -> Funnel:
    """The scenario a question in ``lang`` is measured on."""
    return (by_language or {}).get(lang or "", funnel)


def _known(funnel: Funnel) -> set[str]:
    return {e.id for e in funnel.scenario.knowledge} | {NONE}


async def score(
    funnel: Funnel,
    librarian: Librarian,
    examples: list[Example],
    by_language: Mapping[str, Funnel] | None = None,
) -> KnowledgeScore:
    result = KnowledgeScore()
    for example in examples:
        asked = AskKnowledge(example.text, None, looks_like_question(example.text))
        looked = await librarian.look_up(funnel_for(funnel, by_language, example.lang), asked)
        got = looked.entry or NONE
        result.total += 1
        result.paths[looked.path] += 1
        result.confusion[(example.expected, got)] += 1
        result.latency_ms.append(looked.latency_ms)
        result.tokens += looked.tokens or 0
        if got == example.expected:
            result.correct += 1
        if got != NONE:
            result.answered += 1
            result.answered_right += got == example.expected
            result.false_answers += example.expected == NONE
        elif example.expected != NONE:
            result.missed += 1
    return result


def lines(result: KnowledgeScore) -> list[str]:
    out = [
        f"questions: {result.total}",
        f"accuracy: {result.accuracy:.1%}",
        f'precision of "answered": {result.precision:.1%} ({result.answered} answered)',
        f"false answers (off-topic answered): {result.false_answers}",
        f"missed (answerable, left unanswered): {result.missed}",
        "decided by: " + ", ".join(f"{k} {n}" for k, n in sorted(result.paths.items())),
    ]
    if result.tokens:
        out.append(f"tokens: {result.tokens}")
    wrong = [(e, g, n) for (e, g), n in sorted(result.confusion.items()) if e != g]
    out.append("confusion (expected → got):" if wrong else "confusion: none")
    out += [f"  {n:>3}  {e} → {g}" for e, g, n in wrong]
    return out
