"""The offline classifier: deterministic scoring from the scenario's options, keywords and rules.

It needs no key and no network, so a fresh checkout runs the whole funnel; it is also what
decides whenever the model cannot.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

from bot.scenario.funnel import Funnel
from bot.scenario.model import QuestionStep


@dataclass(frozen=True, slots=True)
class Decision:
    """A classifier's opinion before the operator's rules and threshold are applied."""

    segment: str
    confidence: int
    readiness: str
    reason: str
    summary: str = ""
    path: str = "offline"
    details: dict[str, object] = field(default_factory=dict)


def classify_offline(funnel: Funnel, answers: dict[str, str]) -> Decision:
    scores: Counter[str] = Counter()
    hits: dict[str, list[str]] = {}
    option_scores = _option_scores(funnel)
    for key, value in answers.items():
        for segment, points in option_scores.get((key, value.casefold()), {}).items():
            scores[segment] += points
    free_text = " ".join(
        value for key, value in answers.items() if (key, value.casefold()) not in option_scores
    ).casefold()
    for seg_id, seg in funnel.scenario.segments.items():
        found = [kw for kw in seg.keywords if kw.casefold() in free_text]
        if found:
            scores[seg_id] += len(found)
            hits[seg_id] = found
    for rule in funnel.scenario.classifier.rules:
        if rule.score and rule.applies(answers):
            scores.update(rule.score)

    positive = {k: v for k, v in scores.items() if v > 0}
    fallback = funnel.fallback_segment
    if not positive:
        segment_id, confidence = fallback, 0
    else:
        best = max(positive.values())
        tied = [k for k in funnel.segment_order if positive.get(k) == best]
        segment_id = fallback if fallback in tied else tied[0]
        # Smoothed share of the evidence: one lucky keyword is not certainty.
        confidence = round(100 * best / (sum(positive.values()) + 2))
    chosen = funnel.scenario.segments[segment_id]
    ranked = ", ".join(f"{k}={v}" for k, v in scores.most_common())
    reason = f"scores: {ranked}" if ranked else "no signals in the answers"
    if hits.get(segment_id):
        reason += f"; keywords: {', '.join(hits[segment_id][:5])}"
    return Decision(
        segment=segment_id,
        confidence=confidence,
        readiness=chosen.readiness.value,
        reason=reason,
        summary=summarize(funnel, answers),
        details={"scores": dict(scores)},
    )


def _option_scores(funnel: Funnel) -> dict[tuple[str, str], dict[str, int]]:
    table: dict[tuple[str, str], dict[str, int]] = {}
    for placed in funnel.steps.values():
        step = placed.step
        if isinstance(step, QuestionStep):
            key = step.key or placed.id
            for option in step.options:
                table[(key, option.stored.casefold())] = dict(option.score)
    return table


def summarize(funnel: Funnel, answers: dict[str, str]) -> str:
    """A plain summary for the manager: each question with its answer."""
    questions = funnel.answer_keys()
    parts = []
    for key, value in answers.items():
        question = _first_line(questions.get(key, key))
        parts.append(f"{question} — {value}")
    return "; ".join(parts)


def _first_line(text: str) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
    line = plain.splitlines()[0] if plain else plain
    return line[:120]
