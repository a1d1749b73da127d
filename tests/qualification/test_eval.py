"""``leadbot eval``: loading labelled examples, the scores, and the command itself."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.engine.types import Classified
from bot.qualification import OfflineQualifier
from bot.qualification.configured import make_qualifier
from bot.qualification.evaluate import (
    EvalDataError,
    Example,
    Prediction,
    free_text_key,
    load_examples,
    score,
)
from bot.qualification.llm import LLMQualifier
from bot.qualification.report import run_eval
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from fakes.openai_server import Classify, FakeOpenAI
from tests.conftest import DATA, MINI, ROOT
from tests.qualification.conftest import answer, settings

LEADBOT = Path(sys.executable).parent / "leadbot"
DEMO_EVAL = DATA / "demo_eval.jsonl"


def write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "data.jsonl"
    text = [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def test_examples_load_and_text_goes_to_the_free_text_question(
    tmp_path: Path, mini: Funnel
) -> None:
    path = write(
        tmp_path,
        {"answers": {"need": "buy", "budget": "big"}, "expected": "hot", "note": "n"},
        "",
        {"text": "just looking around", "expected": "info"},
    )
    examples = load_examples(path, mini)
    assert free_text_key(mini) == "about"
    assert examples == [
        Example(1, {"need": "buy", "budget": "big"}, "hot", "n"),
        Example(3, {"about": "just looking around"}, "info", ""),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"answers": {"need": "buy"}, "expected": "hot"', "not valid JSON"),
        ('["buy"]', "expected a JSON object"),
        ({"answers": {"need": "buy"}, "expected": "vip"}, "'expected' must be one of"),
        ({"answers": {"needs": "buy"}, "expected": "hot"}, "unknown answer key 'needs'"),
        ({"answers": {"need": 3}, "expected": "hot"}, "object of strings"),
        ({"expected": "hot"}, "needs 'answers' or 'text'"),
        ({"text": "hi", "expected": "hot", "label": "x"}, "unknown field 'label'"),
    ],
)
def test_a_malformed_line_is_named(tmp_path: Path, mini: Funnel, line: Any, message: str) -> None:
    good = {"text": "fine", "expected": "info"}
    path = write(tmp_path, good, line, good)
    with pytest.raises(EvalDataError) as caught:
        load_examples(path, mini)
    assert f"{path}:2: " in str(caught.value)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_scores(mini: Funnel) -> None:
    def prediction(expected: str, got: str, **details: Any) -> Prediction:
        example = Example(1, {"about": "x"}, expected)
        return Prediction(example, Classified(got, 50, "comparing", details=details))

    predictions = [
        prediction("hot", "hot", path="llm", latency_ms=100, prompt_tokens=10),
        prediction("hot", "info", path="offline_fallback", error="timeout", latency_ms=300),
        prediction("info", "info", path="llm"),
        prediction("nope", "info", path="llm"),
    ]
    report = score(mini, predictions)
    assert report.accuracy == 0.5
    hot, info, nope = report.segments
    assert (hot.precision, hot.recall) == (1.0, 0.5)
    assert info.precision == pytest.approx(1 / 3) and info.recall == 1.0
    assert (nope.precision, nope.recall, nope.f1) == (0.0, 0.0, 0.0)
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert report.confusion[("nope", "info")] == 1
    assert report.fallback_segment_share == 0.75
    assert report.model_failure_share == 0.25
    assert report.errors == {"timeout": 1}
    assert report.latency_ms == 200 and report.prompt_tokens == 10
    assert report.completion_tokens is None
    assert [m.example.expected for m in report.misses] == ["hot", "nope"]


def test_the_demo_set_covers_every_segment(demo_path: Path) -> None:
    funnel = load_funnel(demo_path, "Europe/Moscow")
    examples = load_examples(DEMO_EVAL, funnel)
    assert len(examples) >= 60
    assert {e.expected for e in examples} == set(funnel.scenario.segments)
    injections = [e for e in examples if e.note.startswith("injection")]
    assert len(injections) >= 6


def test_eval_command_offline(demo_path: Path) -> None:
    done = subprocess.run(
        [str(LEADBOT), "eval", str(DEMO_EVAL), "--offline", "--scenario", str(demo_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout and "macro-F1" in done.stdout
    assert "Confusion" in done.stdout


def test_eval_command_names_the_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path, {"text": "fine", "expected": "info"}, "{oops")
    done = subprocess.run(
        [str(LEADBOT), "eval", str(path), "--offline", "--scenario", str(MINI)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:2: not valid JSON (")


async def test_eval_with_the_model(tmp_path: Path, llm: FakeOpenAI) -> None:
    def by_prompt(request: dict[str, Any]) -> dict[str, Any]:
        user = request["messages"][-1]["content"]
        return answer("hot" if "Buy now" in user else "info", 80)

    llm.default = Classify(by_prompt)
    path = write(
        tmp_path,
        {"answers": {"need": "buy", "budget": "big"}, "expected": "hot"},
        {"answers": {"need": "look"}, "expected": "info"},
        {"text": "we are a school, not an office", "expected": "nope"},
    )
    out = io.StringIO()
    config = settings(openai_base_url=llm.base_url, scenario=MINI)

    qualifier = make_qualifier(config)
    try:
        funnel = load_funnel(config.scenario, config.timezone)
        report = await run_eval(funnel, qualifier, path, jobs=2, console=Console(file=out))
    finally:
        assert isinstance(qualifier, LLMQualifier)
        await qualifier.aclose()

    assert report.paths == {"llm": 3}
    assert report.accuracy == pytest.approx(2 / 3)
    assert report.latency_ms is not None and report.prompt_tokens == 50
    printed = out.getvalue()
    assert "LLM gpt-test" in printed and "mean latency" in printed
    assert len(llm.requests) == 3


async def test_make_qualifier_picks_by_key() -> None:
    assert isinstance(make_qualifier(settings(openai_api_key=None)), OfflineQualifier)
    qualifier = make_qualifier(settings())
    assert isinstance(qualifier, LLMQualifier)
    await qualifier.aclose()
