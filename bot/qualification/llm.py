"""The LLM qualifier: the model proposes, the code disposes.

The model reads the scenario's segments and the prospect's answers and proposes a segment;
routing (the operator's rules, caps and the confidence threshold) is applied in code after it.
When the model cannot answer, the offline classifier decides. A model verdict that would make a
lead hot needs support in the answers themselves (``corroborate``), and when the answers look like
an injection attempt the lead may not end up hotter than the colder of the offline verdict and
the verdict on the answers with the attack removed. Contacts are masked before the prompt.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from openai import AsyncOpenAI

from bot.engine.types import Classified
from bot.qualification.call import ModelCall, ModelClient
from bot.qualification.injection import INJECTION_SUSPECTED, detect_injection
from bot.qualification.offline import Decision, classify_offline, summarize
from bot.qualification.routing import route
from bot.redact import redact_values
from bot.scenario.funnel import Funnel
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 300
MAX_SUMMARY_CHARS = 2000


class LLMQualifier:
    """Qualifies with one model call; never raises, whatever the model or network does."""

    def __init__(self, client: AsyncOpenAI, model: str, *, deadline: float = 45.0) -> None:
        self.client = client
        self.model = ModelClient(client, model, deadline)

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMQualifier:
        assert settings.openai_api_key is not None
        budget = settings.openai_budget
        client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=min(settings.openai_timeout, budget),
            max_retries=1,
        )
        # One budget for the whole answer, retries included: the prospect is waiting. Two
        # attempts of OPENAI_TIMEOUT (plus the SDK's back-off) bound it too when shorter.
        deadline = min(budget, 2 * settings.openai_timeout + 1)
        return cls(client, settings.openai_model, deadline=deadline)

    async def aclose(self) -> None:
        await self.client.close()

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        try:
            return await self._qualify(funnel, answers)
        except Exception:  # a bug here must not stall the prospect's funnel
            log.exception("qualification failed; the offline classifier decides")
            return _last_resort(funnel, answers)

    async def _qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        offline = classify_offline(funnel, answers)
        suspicious = detect_injection(answers)
        flags = (INJECTION_SUSPECTED,) if suspicious else ()
        if suspicious:
            log.warning("possible prompt injection (%s)", ", ".join(suspicious))
            # classify_offline already judged the text with and without the attack (colder).
            offline = _with(offline, injection=suspicious)
        if _forced_by_rules(funnel, answers):
            decided = dataclasses.replace(offline, path="rules")
            return route(funnel, decided, answers, apply_threshold=False, flags=flags)
        if not any(value.strip() for value in answers.values()):
            return route(funnel, offline, answers, apply_threshold=False, flags=flags)

        # The model provider never sees contacts, whatever the prospect typed where.
        call = await self.model.ask(funnel, redact_values(answers))
        if call.parsed is None:
            fallback = dataclasses.replace(offline, path="offline_fallback")
            fallback = _with(fallback, **call.details())
            return route(funnel, fallback, answers, apply_threshold=False, flags=flags)

        result = route(
            funnel,
            _decision(funnel, answers, call, offline),
            answers,
            apply_threshold=True,
            flags=flags,
        )
        baseline = route(funnel, offline, answers, apply_threshold=False)
        if suspicious:
            return _no_hotter(funnel, result, baseline.segment)
        return corroborate(funnel, result, baseline, offline)


def _decision(
    funnel: Funnel, answers: dict[str, str], call: ModelCall, offline: Decision
) -> Decision:
    parsed = call.parsed
    assert parsed is not None
    segment = str(parsed.segment)  # type: ignore[attr-defined]  # added per scenario
    reason = " ".join(parsed.reason.split())[:MAX_REASON_CHARS] or "no reason given"
    summary = parsed.summary.strip()[:MAX_SUMMARY_CHARS] or summarize(funnel, answers)
    return Decision(
        segment=segment,
        confidence=parsed.confidence,
        readiness=parsed.readiness,
        reason=reason,
        summary=summary,
        path=call.path,
        details={
            **call.details(),
            "llm_segment": segment,
            "llm_confidence": parsed.confidence,
            "bant": parsed.bant.model_dump(),
            "pains": list(parsed.pains),
            "offline_segment": offline.segment,
            **{k: v for k, v in offline.details.items() if k == "injection"},
        },
    )


def _no_hotter(funnel: Funnel, result: Classified, ceiling: str) -> Classified:
    """Keep a suspected injection from lifting the lead above the offline verdict."""
    order = funnel.segment_order
    if order.index(result.segment) >= order.index(ceiling):
        return result
    return dataclasses.replace(
        result,
        segment=ceiling,
        readiness=funnel.scenario.segments[ceiling].readiness.value,
        reason=f"{result.reason} (injection suspected: capped at {ceiling})",
        details={**result.details, "injection_capped_from": result.segment},
    )


def corroborate(
    funnel: Funnel, result: Classified, baseline: Classified, offline: Decision
) -> Classified:
    """A model verdict may make a lead hot only with the interview's own evidence behind it.

    Recognising every injection is impossible, so the defence does not depend on it: when the
    model puts a lead in a hot segment hotter than the offline verdict, the offline scores
    (buttons, rules, keywords, examples) must give that segment some support; otherwise the
    lead lands in the hottest non-hot segment below the model's verdict (or the offline
    verdict, if that is hotter) and the reason says why.
    """
    segments = funnel.scenario.segments
    order = funnel.segment_order
    chosen = result.segment
    if not segments[chosen].hot or order.index(chosen) >= order.index(baseline.segment):
        return result
    scores = offline.details.get("scores")
    support = scores.get(chosen, 0) if isinstance(scores, dict) else 0
    if support > 0:
        return result
    below = [s for s in order[order.index(chosen) + 1 :] if not segments[s].hot]
    ceiling = below[0] if below else funnel.fallback_segment
    if order.index(baseline.segment) < order.index(ceiling):
        ceiling = baseline.segment
    return dataclasses.replace(
        result,
        segment=ceiling,
        readiness=segments[ceiling].readiness.value,
        reason=f"{result.reason} (not corroborated by the answers: {chosen} -> {ceiling})",
        details={**result.details, "uncorroborated_from": chosen},
    )


def _forced_by_rules(funnel: Funnel, answers: dict[str, str]) -> bool:
    """An operator's rule names the segment outright: asking the model would change nothing."""
    return any(
        rule.segment is not None and rule.applies(answers)
        for rule in funnel.scenario.classifier.rules
    )


def _with(decision: Decision, **details: Any) -> Decision:
    return dataclasses.replace(decision, details={**decision.details, **details})


def _last_resort(funnel: Funnel, answers: dict[str, str]) -> Classified:
    try:
        decision = _with(classify_offline(funnel, answers), error="internal")
        decision = dataclasses.replace(decision, path="offline_fallback")
        flags = (INJECTION_SUSPECTED,) if detect_injection(answers) else ()
        return route(funnel, decision, answers, apply_threshold=False, flags=flags)
    except Exception:
        log.exception("the offline classifier failed too; the fallback segment it is")
        segment = funnel.fallback_segment
        readiness = funnel.scenario.segments[segment].readiness.value
        return Classified(
            segment=segment,
            confidence=0,
            readiness=readiness,
            reason="classification failed",
            details={"path": "offline_fallback", "error": "internal"},
        )
