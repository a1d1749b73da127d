"""In-process fake of the OpenAI Chat Completions API, spoken to over real HTTP.

Tests give the real ``openai.AsyncOpenAI`` client ``base_url=fake.base_url`` so its request
building, structured-output parsing (``chat.completions.parse``) and error mapping run for real,
while each answer (reply, refusal, error, delay, garbage) is scripted per call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from pydantic import BaseModel

# --------------------------------------------------------------------------------------------
# Behaviours
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """A normal completion; dict/pydantic content is sent as a JSON string."""

    content: Mapping[str, Any] | BaseModel | str
    prompt_tokens: int = 50
    completion_tokens: int = 20
    finish_reason: str = "stop"  # "length"/"content_filter" make ``parse`` raise

    def serialized(self) -> str:
        """The message content string as the API would send it."""
        if isinstance(self.content, BaseModel):
            return self.content.model_dump_json()
        if isinstance(self.content, str):
            return self.content
        return json.dumps(dict(self.content), ensure_ascii=False)


@dataclass
class Refusal:
    """The model declines: ``content`` is null and ``refusal`` carries the text."""

    text: str = "I'm sorry, I can't help with that."


@dataclass
class Status:
    """An HTTP error in OpenAI's ``{"error": {...}}`` format (Retry-After header if given)."""

    status: int
    retry_after: float | None = None
    message: str | None = None
    type: str | None = None
    code: str | None = None


@dataclass
class Delay:
    """Sleep before answering, to exercise client time-outs; ``then=None`` uses the default."""

    seconds: float
    then: Behaviour | None = None


@dataclass
class Garbage:
    """A successful completion whose content is not valid JSON."""

    content: str = "not json"


@dataclass
class RejectJsonSchema:
    """A model without structured outputs: 400 for ``response_format`` json_schema requests.

    Other requests (e.g. a ``json_object`` fallback) are answered by ``then`` or the default,
    so ``fake.default = RejectJsonSchema(then=...)`` emulates such a model permanently.
    """

    then: Behaviour | None = None


@dataclass
class Classify:
    """Answer computed from the request JSON, e.g. to reply based on the prompt.

    The callable returns a behaviour, or a dict/str which is wrapped in ``Reply``.
    """

    handler: Callable[[dict[str, Any]], Behaviour | Mapping[str, Any] | str]


Behaviour = Reply | Refusal | Status | Delay | Garbage | RejectJsonSchema | Classify

_STATUS_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def _error_response(
    status: int,
    message: str,
    error_type: str,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _uses_json_schema(request: Mapping[str, Any]) -> bool:
    response_format = request.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_schema"


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """Headers of one request; the JSON body is kept separately in ``FakeOpenAI.requests``."""

    path: str
    headers: dict[str, str]
    time: float = field(default_factory=time.monotonic)


class FakeOpenAI:
    """Fake OpenAI-compatible server on ``127.0.0.1:<random port>``.

    Use as ``async with FakeOpenAI() as fake`` and create the client with
    ``AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)``.
    """

    def __init__(
        self,
        *,
        default: Behaviour | None = None,
        api_key: str | None = None,
        model: str | None = None,
    ) -> None:
        #: Used when the script queue is empty; by default a loud 500 so unplanned calls show.
        self.default: Behaviour = default or Status(
            500, message="FakeOpenAI: script is empty and no default behaviour is set"
        )
        self.api_key = api_key
        self.model = model  # overrides the echoed model name when set
        #: JSON body of every /v1/chat/completions request, in arrival order.
        self.requests: list[dict[str, Any]] = []
        self.request_meta: list[RecordedRequest] = []
        self._script: deque[Behaviour] = deque()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat_completions)
        self.app.router.add_route("*", "/{tail:.*}", self._not_found)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOpenAI is not started; use `async with FakeOpenAI()`")
        return f"http://127.0.0.1:{self._port}/v1"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- scripting

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, consumed one per request in order."""
        self._script.extend(behaviours)

    @property
    def remaining(self) -> int:
        """Scripted behaviours not consumed yet (assert 0 to prove every answer was used)."""
        return len(self._script)

    @property
    def last_request(self) -> dict[str, Any]:
        if not self.requests:
            raise AssertionError("FakeOpenAI received no requests")
        return self.requests[-1]

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of one request joined by newlines, for prompt assertions."""
        parts: list[str] = []
        for message in self.requests[index].get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return "\n".join(parts)

    # ---------------------------------------------------------------- HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        return _error_response(
            404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
        )

    async def _chat_completions(self, request: web.Request) -> web.Response:
        self.request_meta.append(RecordedRequest(request.path, dict(request.headers)))
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error_response(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        self.requests.append(body)
        expected_auth = f"Bearer {self.api_key}"
        if self.api_key is not None and request.headers.get("Authorization") != expected_auth:
            return _error_response(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if body.get("stream"):
            return _error_response(
                400,
                "FakeOpenAI does not support stream=true",
                "invalid_request_error",
                param="stream",
            )
        behaviour = self._script.popleft() if self._script else self.default
        return await self._answer(behaviour, body)

    async def _answer(self, behaviour: Behaviour, body: dict[str, Any]) -> web.Response:
        match behaviour:
            case Delay(seconds=seconds, then=then):
                await asyncio.sleep(seconds)
                return await self._answer(then or self._fallback(behaviour), body)
            case Classify(handler=handler):
                produced = handler(body)
                answer = Reply(produced) if isinstance(produced, Mapping | str) else produced
                return await self._answer(answer, body)
            case RejectJsonSchema(then=then):
                if _uses_json_schema(body):
                    return _error_response(
                        400,
                        "Invalid parameter: 'response_format' of type 'json_schema' is not "
                        "supported with this model. Learn more about supported models at the "
                        "Structured Outputs guide: "
                        "https://platform.openai.com/docs/guides/structured-outputs",
                        "invalid_request_error",
                        param="response_format",
                    )
                return await self._answer(then or self._fallback(behaviour), body)
            case Status():
                return self._status(behaviour)
            case Refusal(text=refusal):
                return self._completion(body, None, refusal=refusal)
            case Garbage(content=garbage):
                return self._completion(body, garbage)
            case Reply():
                return self._completion(
                    body,
                    behaviour.serialized(),
                    prompt_tokens=behaviour.prompt_tokens,
                    completion_tokens=behaviour.completion_tokens,
                    finish_reason=behaviour.finish_reason,
                )
        raise TypeError(f"Unknown FakeOpenAI behaviour: {behaviour!r}")

    def _fallback(self, wrapper: Behaviour) -> Behaviour:
        """Behaviour for a wrapper without ``then``: the default, unless that would loop."""
        if self.default is wrapper:
            return Status(500, message="FakeOpenAI: wrapper default needs an explicit `then`")
        return self.default

    @staticmethod
    def _status(behaviour: Status) -> web.Response:
        message, error_type, code = _STATUS_DEFAULTS.get(
            behaviour.status, ("Upstream error.", "server_error", None)
        )
        headers: dict[str, str] = {}
        if behaviour.retry_after is not None:
            headers["retry-after"] = f"{behaviour.retry_after:g}"
            headers["retry-after-ms"] = str(int(behaviour.retry_after * 1000))
        return _error_response(
            behaviour.status,
            behaviour.message or message,
            behaviour.type or error_type,
            behaviour.code or code,
            headers=headers,
        )

    def _completion(
        self,
        body: Mapping[str, Any],
        content: str | None,
        *,
        refusal: str | None = None,
        prompt_tokens: int = 50,
        completion_tokens: int = 20,
        finish_reason: str = "stop",
    ) -> web.Response:
        completion = {
            "id": "chatcmpl-" + secrets.token_urlsafe(18),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model or str(body.get("model") or "gpt-fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        return web.json_response(completion, headers={"x-request-id": secrets.token_hex(8)})
