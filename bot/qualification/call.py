"""One call to an OpenAI-compatible model, turned into a parsed answer or an error kind.

Nothing here raises for the model's or the network's faults: the caller gets a ``ModelCall``
with ``error`` set and lets the offline classifier decide, so a chat never shows a failure.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, cast

from openai import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    BadRequestError,
    ContentFilterFinishReasonError,
    LengthFinishReasonError,
    OpenAIError,
    RateLimitError,
)
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion
from openai.types.shared_params import ResponseFormatJSONObject
from pydantic import ValidationError

from bot.qualification import prompt
from bot.qualification.schema import QualificationBase, answer_model
from bot.scenario.funnel import Funnel

log = logging.getLogger(__name__)

_SCHEMA_WORDS = re.compile(r"response_format|json_schema|structured output", re.IGNORECASE)
_CONFIG_ERRORS = frozenset({"auth", "not_found", "bad_request"})
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


@dataclass(frozen=True, slots=True)
class ModelCall:
    """What one qualification's call produced, for routing and for the lead log."""

    path: str  # "llm" (structured output) or "json_mode"
    model: str
    latency_ms: int
    parsed: QualificationBase | None = None
    error: str | None = None
    error_detail: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        if self.error:
            out["error"] = self.error
            out["error_detail"] = self.error_detail
            out["llm_path"] = self.path
        return out


class _Refused(Exception):
    """The model answered with a refusal or with nothing."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class ModelClient:
    """Asks the model for a ``LeadQualification``; remembers if the server lacks json_schema.

    ``deadline`` bounds the whole call including the SDK's retry, whose wait after a 429 may
    otherwise follow a Retry-After of up to two minutes while the prospect sees "typing…".
    """

    def __init__(self, client: AsyncOpenAI, model: str, deadline: float) -> None:
        self.client = client
        self.model = model
        self.deadline = deadline
        self.json_mode = False  # set once the server rejects response_format=json_schema

    async def ask(self, funnel: Funnel, answers: dict[str, str]) -> ModelCall:
        trace = _Trace(model=self.model, path="json_mode" if self.json_mode else "llm")
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.deadline):
                parsed = await self._ask(funnel, answers, trace)
        except Exception as exc:  # every fault of the model or the network ends here
            kind = error_kind(exc)
            level = logging.ERROR if kind in _CONFIG_ERRORS else logging.WARNING
            log.log(level, "classifier %s failed (%s): %s", trace.path, kind, _short(exc))
            return trace.result(started, error=kind, error_detail=_short(exc))
        return trace.result(started, parsed=parsed)

    async def _ask(
        self, funnel: Funnel, answers: dict[str, str], trace: _Trace
    ) -> QualificationBase:
        model_cls = answer_model(funnel)
        if not self.json_mode:
            try:
                completion = await self.client.chat.completions.parse(
                    model=self.model,
                    messages=prompt.messages(funnel, answers),
                    response_format=model_cls,
                )
            except BadRequestError as exc:
                if not _SCHEMA_WORDS.search(f"{exc.param} {exc.message}"):
                    raise
                log.warning("%s rejects json_schema; JSON mode from now on", self.model)
                self.json_mode = True
                trace.path = "json_mode"
            else:
                message = trace.seen(completion)
                if message.parsed is None:
                    raise _Refused("empty", "no content")
                return cast(QualificationBase, message.parsed)
        schema = model_cls.model_json_schema()
        raw = await self.client.chat.completions.create(
            model=self.model,
            messages=prompt.messages(funnel, answers, schema),
            response_format=ResponseFormatJSONObject(type="json_object"),
        )
        content = trace.seen(raw).content
        if not content:
            raise _Refused("empty", "no content")
        return model_cls.model_validate_json(_json_object(content))


@dataclass(slots=True)
class _Trace:
    """What is known of a call so far, so a failure is logged with whatever was spent."""

    model: str
    path: str
    usage: CompletionUsage | None = None

    def seen(self, completion: ChatCompletion) -> Any:
        """Record the served model and usage; return the message, refusing a refusal."""
        self.model = completion.model or self.model
        self.usage = completion.usage
        message = completion.choices[0].message
        if message.refusal:
            raise _Refused("refusal", message.refusal)
        return message

    def result(self, started: float, **fields: Any) -> ModelCall:
        return ModelCall(
            path=self.path,
            model=self.model,
            latency_ms=round((time.monotonic() - started) * 1000),
            prompt_tokens=self.usage.prompt_tokens if self.usage else None,
            completion_tokens=self.usage.completion_tokens if self.usage else None,
            **fields,
        )


def error_kind(exc: BaseException) -> str:
    """A short, stable name for what went wrong (it is logged and counted by ``eval``)."""
    match exc:
        case _Refused():
            return exc.kind
        case TimeoutError() | APITimeoutError():
            return "timeout"
        case APIConnectionError():
            return "connection"
        case RateLimitError():
            return "rate_limit"
        case APIStatusError() if exc.status_code >= 500:
            return "server_error"
        case APIStatusError() if exc.status_code in (401, 403):
            return "auth"
        case APIStatusError() if exc.status_code == 404:
            return "not_found"
        case APIStatusError():
            return "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        case ValidationError() | APIResponseValidationError():
            return "invalid_output"
        case LengthFinishReasonError():
            return "length"
        case ContentFilterFinishReasonError():
            return "content_filter"
        case OpenAIError():
            return "openai_error"
    return "internal"


def _json_object(content: str) -> str:
    """Tolerate a JSON object wrapped in a code fence or a sentence (some local models do)."""
    text = _FENCE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
