"""The LLM qualifier: the model proposes, the code disposes.

The model reads the scenario's segments and the prospect's answers and proposes a segment;
routing (the operator's rules, caps and the confidence threshold) is applied in code after it.
When the model cannot answer, the offline classifier decides, and when the answers look like an
injection attempt the lead may not end up hotter than the offline classifier would put it.
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
        client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=1,
        )
        # Two attempts of OPENAI_TIMEOUT each, plus the SDK's short back-off between them.
        return cls(client, settings.openai_model, deadline=2 * settings.openai_timeout + 1)

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
            offline = _with(offline, injection=suspicious)
        if _forced_by_rules(funnel, answers):
            decided = dataclasses.replace(offline, path="rules")
            return route(funnel, decided, answers, apply_threshold=False, flags=flags)
        if not any(value.strip() for value in answers.values()):
            return route(funnel, offline, answers, apply_threshold=False, flags=flags)

        call = await self.model.ask(funnel, answers)
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
        if suspicious:
            baseline = route(funnel, offline, answers, apply_threshold=False)
            result = _no_hotter(funnel, result, baseline.segment)
        return result


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
