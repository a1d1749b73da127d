"""The LLM qualifier against FakeOpenAI: the real openai client over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.qualification import OfflineQualifier
from bot.qualification.llm import LLMQualifier
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from fakes.openai_server import (
    Behaviour,
    Delay,
    FakeOpenAI,
    Garbage,
    Refusal,
    RejectJsonSchema,
    Reply,
    Status,
)
from tests.conftest import MINI
from tests.qualification.conftest import MakeQualifier, answer

HOT_ANSWERS = {"need": "buy", "budget": "big", "about": "40 people, we need a machine this week"}
LOOKING = {"need": "look", "budget": "big", "about": "just want to compare machines"}


async def test_structured_output_is_parsed_and_routed(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.script(Reply(answer("hot", 88), prompt_tokens=321, completion_tokens=45))

    result = await qualifier.qualify(mini, HOT_ANSWERS)

    assert result.segment == "hot"
    assert result.confidence == 88
    assert result.readiness == "ready_to_buy"
    assert result.reason == "Asked for the price and delivery this week."
    assert result.summary == "Office of 40 people wants a machine this month."
    assert result.flags == ()
    details = result.details
    assert details["path"] == "llm"
    assert details["model"] == "gpt-test"
    assert details["prompt_tokens"] == 321 and details["completion_tokens"] == 45
    assert isinstance(details["latency_ms"], int) and details["latency_ms"] >= 0
    assert details["llm_segment"] == "hot" and details["llm_confidence"] == 88
    assert details["bant"] == {
        "need": "yes",
        "budget": "yes",
        "authority": "unknown",
        "timeline": "yes",
    }
    assert details["pains"] == ["slow coffee", "queues"]
    assert "error" not in details
    # One call, structured output, the segment an enum of the scenario's ids plus "unknown".
    assert len(llm.requests) == 1 and llm.remaining == 0
    request = llm.last_request
    assert request["model"] == "gpt-test"
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["segment"]["enum"] == ["hot", "info", "nope", "unknown"]
    assert schema["properties"]["confidence"]["maximum"] == 100


async def test_one_call_per_qualification(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.default = Reply(answer("info", 70))
    for _ in range(3):
        assert (await qualifier.qualify(mini, LOOKING)).segment == "info"
    assert len(llm.requests) == 3


FAILURES: list[tuple[str, list[Behaviour], str, int]] = [
    ("500", [Status(500), Status(500)], "server_error", 2),
    ("429", [Status(429), Status(429)], "rate_limit", 2),
    ("malformed json", [Garbage("{'segment': hot")], "invalid_output", 1),
    ("out-of-enum segment", [Reply(answer("vip"))], "invalid_output", 1),
    ("confidence out of range", [Reply(answer("hot", 140))], "invalid_output", 1),
    ("refusal", [Refusal("I can't help with that.")], "refusal", 1),
    ("truncated", [Reply(answer("hot"), finish_reason="length")], "length", 1),
    ("auth", [Status(401)], "auth", 1),
]


@pytest.mark.parametrize(
    ("script", "kind", "calls"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
async def test_failures_fall_back_to_the_offline_classifier(
    llm: FakeOpenAI,
    qualifier: LLMQualifier,
    mini: Funnel,
    script: list[Behaviour],
    kind: str,
    calls: int,
) -> None:
    llm.script(*script)
    offline = await OfflineQualifier().qualify(mini, HOT_ANSWERS)

    result = await qualifier.qualify(mini, HOT_ANSWERS)

    assert result.segment == offline.segment == "hot"
    assert result.confidence == offline.confidence
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == kind
    assert result.details["model"] == "gpt-test"
    assert "latency_ms" in result.details
    # At most one retry, and only for errors worth retrying.
    assert len(llm.requests) == calls
    assert llm.remaining == 0


async def test_timeout_falls_back_after_one_retry(
    llm: FakeOpenAI, make_qualifier: MakeQualifier, mini: Funnel
) -> None:
    qualifier = await make_qualifier(openai_timeout=0.5)
    llm.default = Delay(3.0, then=Reply(answer("nope")))
    started = time.monotonic()

    result = await qualifier.qualify(mini, LOOKING)

    assert time.monotonic() - started < 2.5
    assert result.segment == "info"
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == "timeout"
    assert len(llm.requests) == 2


async def test_a_long_retry_after_is_cut_by_the_deadline(
    llm: FakeOpenAI, make_qualifier: MakeQualifier, mini: Funnel
) -> None:
    # The SDK would honour Retry-After: 60 before its retry; the prospect must not wait that.
    qualifier = await make_qualifier(openai_timeout=0.5)
    llm.script(Status(429, retry_after=60))
    started = time.monotonic()

    result = await qualifier.qualify(mini, LOOKING)

    assert time.monotonic() - started < 3
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == "timeout"


async def test_connection_refused_falls_back(make_qualifier: MakeQualifier, mini: Funnel) -> None:
    qualifier = await make_qualifier(openai_base_url="http://127.0.0.1:9/v1")
    result = await qualifier.qualify(mini, HOT_ANSWERS)
    assert result.segment == "hot"
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == "connection"


async def test_json_mode_when_json_schema_is_rejected(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.default = RejectJsonSchema(then=Reply(answer("info", 75), prompt_tokens=99))

    first = await qualifier.qualify(mini, LOOKING)

    assert first.segment == "info"
    assert first.details["path"] == "json_mode"
    assert first.details["prompt_tokens"] == 99
    assert [r["response_format"]["type"] for r in llm.requests] == ["json_schema", "json_object"]
    prompt = llm.prompt_text()
    assert "JSON schema" in prompt and '"unknown"' in prompt

    second = await qualifier.qualify(mini, HOT_ANSWERS)

    # The rejection is remembered: one call, straight to JSON mode.
    assert second.details["path"] == "json_mode"
    assert len(llm.requests) == 3
    assert llm.last_request["response_format"] == {"type": "json_object"}


async def test_json_mode_validates_with_the_same_model(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.script(
        RejectJsonSchema(),
        Reply(answer("platinum")),  # out of the enum
        Garbage(repr(answer("hot"))),  # a Python dict is not JSON
    )
    result = await qualifier.qualify(mini, HOT_ANSWERS)
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == "invalid_output"
    assert result.details["llm_path"] == "json_mode"

    result = await qualifier.qualify(mini, HOT_ANSWERS)
    assert result.details["error"] == "invalid_output"


async def test_json_mode_tolerates_a_code_fence(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    import json

    llm.script(RejectJsonSchema(), Garbage("```json\n" + json.dumps(answer("info")) + "\n```"))
    result = await qualifier.qualify(mini, LOOKING)
    assert result.details["path"] == "json_mode"
    assert result.segment == "info"


async def test_low_confidence_goes_to_the_fallback_and_is_flagged(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.script(Reply(answer("hot", 30)))  # mini's threshold is 50

    result = await qualifier.qualify(mini, HOT_ANSWERS)

    assert result.segment == "info"
    assert "low_confidence" in result.flags
    assert result.readiness == "collecting_info"
    assert result.details["llm_segment"] == "hot" and result.details["llm_confidence"] == 30


async def test_unknown_goes_to_the_fallback(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.script(Reply(answer("unknown", 80)))
    result = await qualifier.qualify(mini, HOT_ANSWERS)
    assert result.segment == "info"
    assert result.details["llm_segment"] == "unknown"


async def test_operator_cap_applies_to_the_model(
    llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel
) -> None:
    llm.script(Reply(answer("hot", 95)))
    result = await qualifier.qualify(mini, {**HOT_ANSWERS, "budget": "tiny"})
    assert result.segment == "info"
    assert "rule caps at info" in result.reason


async def test_a_forcing_rule_decides_without_the_model(
    llm: FakeOpenAI, qualifier: LLMQualifier, tmp_path: Path
) -> None:
    cap = "    - when: {budget: tiny}\n      cap: info\n"
    force = "    - when: {need: look}\n      segment: nope\n"
    text = MINI.read_text().replace(cap, cap + force)
    (tmp_path / "assets").symlink_to(MINI.parent / "assets")
    path = tmp_path / "forced.yaml"
    path.write_text(text)
    funnel = load_funnel(path, "Europe/Moscow")

    result = await qualifier.qualify(funnel, LOOKING)

    assert result.segment == "nope"
    assert result.details["path"] == "rules"
    assert llm.requests == []


async def test_no_answers_no_call(llm: FakeOpenAI, qualifier: LLMQualifier, mini: Funnel) -> None:
    result = await qualifier.qualify(mini, {})
    assert result.segment == "info"
    assert result.details["path"] == "offline"
    assert llm.requests == []


async def test_a_bug_never_escapes(
    qualifier: LLMQualifier, mini: Funnel, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(qualifier.model, "ask", broken)
    result = await qualifier.qualify(mini, HOT_ANSWERS)
    assert result.segment == "hot"
    assert result.details["path"] == "offline_fallback"
    assert result.details["error"] == "internal"
