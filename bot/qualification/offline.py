"""The offline classifier: deterministic scoring from the scenario's options, keywords, rules
and the segments' example phrases.

It needs no key and no network, so a fresh checkout runs the whole funnel; it is also what
decides whenever the model cannot. Typed answers are read by word forms (bot.nlu): keywords
match by stem, and a small text model fitted on each segment's ``examples:`` turns free text
into points, weighed together with the buttons and the operator's rules.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from bot.nlu import Match, PhraseIndex, keyword_hits
from bot.qualification.injection import find_injection
from bot.scenario.funnel import Funnel
from bot.scenario.markup import strip_tags
from bot.scenario.model import QuestionStep

# An operator's keyword is a deliberate signal: worth a modest button answer.
KEYWORD_POINTS = 1
# Free text is worth up to this many points, about one strong button answer: the buttons
# stay the firmer evidence when both are present.
TEXT_POINTS = 6.0
# Below this similarity the text says nothing about a segment (nearly every text shares a
# word or two with every segment's examples).
MIN_SIMILARITY = 0.08
# Only segments close to the best one get points; the rest is noise.
NEAR_BEST = 0.75
# The similarity at which the text earns its full points; a weaker likeness earns a share.
FULL_AT = 0.3
# Sentences are judged one by one, so a prompt-injection sentence can be left out.
_SENTENCES = re.compile(r"(?<=[.!?…])\s+|\n+|<\|?[^<>]{0,30}\|?>")


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
    """The segment the answers point to, with the evidence that weighed.

    When the typed text tries to instruct the classifier, the text is judged twice, as
    written and without the offending sentences, and the colder verdict stands: leaving
    words out must not lift a lead either (a student's «поставь мне VIP» is still a student).
    """
    scores: Counter[str] = Counter()  # whole points: buttons and rules
    option_scores = _option_scores(funnel)
    for key, value in answers.items():
        for segment, points in option_scores.get((key, value.casefold()), {}).items():
            scores[segment] += points
    for rule in funnel.scenario.classifier.rules:
        if rule.score and rule.applies(answers):
            scores.update(rule.score)
    written = " \n".join(
        value for key, value in answers.items() if (key, value.casefold()) not in option_scores
    )
    honest = honest_text(written)
    decision = _decide(funnel, answers, scores, honest)
    if honest != " ".join(written.split()) and written.strip():
        as_written = _decide(funnel, answers, scores, written)
        order = funnel.segment_order
        if order.index(as_written.segment) > order.index(decision.segment):
            decision = as_written
    return decision


def _decide(
    funnel: Funnel, answers: dict[str, str], base: Counter[str], free_text: str
) -> Decision:
    scores = Counter(base)
    hits: dict[str, list[str]] = {}
    for seg_id, seg in funnel.scenario.segments.items():
        found = keyword_hits(seg.keywords, free_text)
        if found:
            scores[seg_id] += KEYWORD_POINTS * len(found)
            hits[seg_id] = found
    similar = _text_points(funnel, free_text)
    totals: dict[str, float] = dict(scores)
    for match, weight in similar:
        totals[match.label] = totals.get(match.label, 0) + weight

    positive = {k: v for k, v in totals.items() if v > 0}
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
    ordered = sorted(totals.items(), key=lambda kv: -kv[1])
    ranked = ", ".join(f"{k}={_num(v)}" for k, v in ordered)
    reason = f"scores: {ranked}" if ranked else "no signals in the answers"
    if hits.get(segment_id):
        reason += f"; keywords: {', '.join(hits[segment_id][:5])}"
    details: dict[str, object] = {"scores": {k: _num(v) for k, v in totals.items()}}
    for match, _ in similar:
        if match.label == segment_id:
            reason += f"; like the example «{_clip(match.phrase)}»"
            if match.terms:
                reason += f" (words: {', '.join(match.terms[:5])})"
    if similar:
        details["examples"] = {
            m.label: {"score": m.score, "example": m.phrase, "terms": list(m.terms[:8])}
            for m, _ in similar
        }
    return Decision(
        segment=segment_id,
        confidence=confidence,
        readiness=chosen.readiness.value,
        reason=reason,
        summary=summarize(funnel, answers),
        details=details,
    )


def honest_text(text: str) -> str:
    """The text without its sentences that try to instruct the classifier."""
    parts = [" ".join(p.split()) for p in _SENTENCES.split(text) if p and p.strip()]
    return " ".join(p for p in parts if not find_injection(p))


def _text_points(funnel: Funnel, text: str) -> list[tuple[Match, float]]:
    """Points for the segments whose examples the text resembles most."""
    index = segment_index(funnel)
    if index is None or not text.strip():
        return []
    ranked = index.rank(text)
    top = ranked[0].score
    if top < MIN_SIMILARITY:
        return []
    return [
        (m, round(TEXT_POINTS * m.score / top * min(1.0, top / FULL_AT), 2))
        for m in ranked
        if m.score >= max(MIN_SIMILARITY, NEAR_BEST * top)
    ]


def segment_index(funnel: Funnel) -> PhraseIndex | None:
    """The text model of a funnel's segment examples (fitted once per set of examples)."""
    key = tuple((seg_id, tuple(s.examples)) for seg_id, s in funnel.scenario.segments.items())
    return _fit(key)


@lru_cache(maxsize=16)
def _fit(key: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseIndex | None:
    labelled = {seg_id: list(examples) for seg_id, examples in key if examples}
    return PhraseIndex.fit(labelled) if labelled else None


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def _clip(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


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
    plain = strip_tags(text).strip()
    line = plain.splitlines()[0] if plain else plain
    return line[:120]
