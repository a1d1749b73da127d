"""From a classifier's decision to the segment a lead gets: the operator's rules win.

Rules are applied in code after any classifier, so a model (or a prospect talking to it)
can never overrule what the operator wrote: a forced segment stays forced, a cap stays a cap.
"""

from __future__ import annotations

from bot.engine.types import Classified
from bot.qualification.offline import Decision
from bot.scenario.funnel import Funnel
from bot.vocabulary import LeadFlag

LOW_CONFIDENCE = LeadFlag.LOW_CONFIDENCE


def route(
    funnel: Funnel,
    decision: Decision,
    answers: dict[str, str],
    *,
    apply_threshold: bool,
    flags: tuple[str, ...] = (),
) -> Classified:
    order = funnel.segment_order
    segment = decision.segment if decision.segment in funnel.scenario.segments else None
    notes: list[str] = []
    out_flags = list(flags)
    threshold = funnel.scenario.classifier.confidence_threshold
    if segment is None:
        segment = funnel.fallback_segment
        notes.append("unknown segment -> fallback")
    elif apply_threshold and decision.confidence < threshold:
        segment = funnel.fallback_segment
        out_flags.append(LOW_CONFIDENCE)
        notes.append(f"confidence {decision.confidence} < {threshold} -> fallback")
    for rule in funnel.scenario.classifier.rules:
        if not rule.applies(answers):
            continue
        if rule.segment is not None and rule.segment != segment:
            notes.append(f"rule forces {rule.segment}")
            segment = rule.segment
        if rule.cap is not None and order.index(segment) < order.index(rule.cap):
            notes.append(f"rule caps at {rule.cap}")
            segment = rule.cap
    chosen = funnel.scenario.segments[segment]
    readiness = decision.readiness if segment == decision.segment else chosen.readiness.value
    reason = decision.reason + (f" ({'; '.join(notes)})" if notes else "")
    return Classified(
        segment=segment,
        confidence=decision.confidence,
        readiness=readiness,
        summary=decision.summary,
        reason=reason,
        flags=tuple(dict.fromkeys(out_flags)),
        details={"path": decision.path, "model_segment": decision.segment, **decision.details},
    )
