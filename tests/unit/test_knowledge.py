"""The knowledge base: validation with file:line, offline retrieval, the routing evaluation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.knowledge.evaluate import KnowledgeDataError, read_examples, score
from bot.knowledge.librarian import OfflineLibrarian
from bot.knowledge.retrieval import best_entry, rank_entries
from bot.scenario.funnel import Funnel
from bot.scenario.loader import ScenarioError, load_funnel
from tests.conftest import DATA, ROOT

KB_TEXT = (DATA / "kb.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def kb() -> Funnel:
    return load_funnel(DATA / "kb.yaml", "Europe/Moscow")


def problems(tmp_path: Path, text: str) -> list[str]:
    target = tmp_path / "kb.yaml"
    target.write_text(text, encoding="utf-8")
    (tmp_path / "assets").mkdir(exist_ok=True)
    (tmp_path / "assets" / "guide.pdf").write_bytes((DATA / "assets" / "guide.pdf").read_bytes())
    with pytest.raises(ScenarioError) as info:
        load_funnel(target)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_goto_duplicate_id_and_missing_file_are_errors_with_lines(tmp_path: Path) -> None:
    text = KB_TEXT.replace("goto: hot_offer}", "goto: hot_ofer}")
    text = text.replace("  - id: visit", "  - id: price")
    text = text.replace("file: assets/guide.pdf", "file: assets/nope.pdf")
    found = problems(tmp_path, text)
    goto_line = line_of(text, "goto: hot_ofer}")
    assert any(f":{goto_line} " in p and "unknown step 'hot_ofer'" in p for p in found), found
    assert any("knowledge[3].id" in p and "used twice" in p for p in found), found
    assert any("knowledge[1].file" in p and "not found" in p for p in found), found


def test_entry_needs_a_question_and_a_proper_id(tmp_path: Path) -> None:
    text = KB_TEXT.replace("  - id: visit", "  - id: Visit!").replace(
        "      - do you have a showroom?\n", ""
    )
    text += "  - id: empty\n    questions: []\n    answer: x\n"
    found = problems(tmp_path, text)
    assert any("knowledge[3].id" in p for p in found), found
    assert any("knowledge[4].questions" in p for p in found), found


def test_a_step_reached_only_from_the_knowledge_base_is_reachable(kb: Funnel) -> None:
    assert kb.get("hot_offer") is not None  # loaded without "can never be reached" errors


def test_retrieval_matches_word_forms_and_refuses_strangers(kb: Funnel) -> None:
    entries = list(kb.scenario.knowledge)
    assert best_entry(entries, "а договора с ИП заключаете?") is not None
    assert best_entry(entries, "what is the weather like?") is None
    assert best_entry(entries, "???") is None
    ranked = rank_entries(entries, "How much does delivery cost?")
    assert {r.entry for r in ranked} >= {"price", "delivery"}


async def test_eval_scores_the_labelled_set(kb: Funnel) -> None:
    examples = read_examples(DATA / "knowledge_eval.jsonl", kb)
    result = await score(kb, OfflineLibrarian(), examples)
    assert result.total == 20
    assert result.accuracy >= 0.85 and result.precision >= 0.9
    assert result.correct + sum(n for (e, g), n in result.confusion.items() if e != g) == 20


def test_eval_names_bad_lines(tmp_path: Path, kb: Funnel) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "hi", "expected": "nope"}\nnot json\n{"text": 1}\n', "utf-8")
    with pytest.raises(KnowledgeDataError) as info:
        read_examples(data, kb)
    message = str(info.value)
    assert f"{data}:1: no knowledge entry 'nope'" in message
    assert f"{data}:2: not JSON" in message and f"{data}:3: needs" in message


def test_eval_command(tmp_path: Path) -> None:
    env = {"SCENARIO": str(DATA / "kb.yaml"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "eval", "--knowledge", str(DATA / "knowledge_eval.jsonl")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy:" in result.stdout and 'precision of "answered"' in result.stdout


def test_scenario_tests_assert_knowledge_answers(kb: Funnel, tmp_path: Path) -> None:
    from bot.operator.scenario_tests import run_tests

    report = run_tests(kb, DATA / "kb.tests.yaml")
    assert report.failures == [] and len(report.passed) == 2
    wrong = tmp_path / "kb.tests.yaml"
    text = (DATA / "kb.tests.yaml").read_text(encoding="utf-8")
    wrong.write_text(text.replace("- answer: delivery", "- answer: price"), encoding="utf-8")
    failed = run_tests(kb, wrong).failures
    assert len(failed) == 1
    assert "expected an answer from 'price', got the answer of 'delivery'" in failed[0].message
