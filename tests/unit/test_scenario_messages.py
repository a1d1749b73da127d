"""The operator's side of the language: misspellings get "did you mean", one duplicated id
is one error, YAML syntax errors speak plain words, and counts read as a person writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.scenario.loader import ScenarioError, load_funnel, plural
from bot.scenario.suggest import nearest
from bot.scenario.yaml_lines import YamlProblem, load_with_lines
from tests.conftest import MINI
from tests.unit.test_scenario_validation import BASE, problems, write

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.yaml"


def test_misspelled_step_kind_names_the_key_and_the_nearest_kind(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("    - goto: info_end\n", "    - qestion: Why?\n"))
    assert len(found) == 1, found
    assert "funnels.info[4]: a step needs exactly one of:" in found[0]
    assert "unknown key 'qestion' (did you mean 'question'?)" in found[0]
    assert "{" not in found[0]  # the step is no longer printed back as a Python dict


def test_a_step_with_two_kinds_says_which(tmp_path: Path) -> None:
    found = problems(
        tmp_path, BASE.replace("    - goto: info_end\n", "    - message: a\n      question: b\n")
    )
    assert any("this step has 'message' and 'question'" in p for p in found), found


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "goto: hot_later}",
            "goto: hot_latr}",
            "unknown step 'hot_latr' (did you mean 'hot_later'?)",
        ),
        (
            "      cap: info\n",
            "      cap: infos\n",
            "unknown segment 'infos' (did you mean 'info'?)",
        ),
        (
            "  unknown: Please use the buttons.",
            "  unknwn: Please use the buttons.",
            "texts.unknwn: unknown field 'unknwn' (did you mean 'unknown'?)",
        ),
        (
            "      requires_contact: true\n",
            "      requires_contcat: true\n",
            "funnels.info[0].requires_contcat: unknown field 'requires_contcat'"
            " (did you mean 'requires_contact'?)",
        ),
        (
            "      branch: budget\n",
            "      branch: budgte\n",
            "no question stores an answer 'budgte' (did you mean 'budget'?)",
        ),
        (
            '    message: "Hello, {first_name}!"',
            '    message: "Hello, {frist_name}!"',
            "unknown field '{frist_name}' in the text (did you mean 'first_name'?)",
        ),
        (
            "readiness: ready_to_buy",
            "readiness: ready_to_by",
            "(did you mean 'ready_to_buy'?)",
        ),
    ],
)
def test_misspelled_names_get_did_you_mean(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    found = problems(tmp_path, BASE.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_no_suggestion_when_nothing_is_close() -> None:
    assert nearest("colour", ["message", "buttons", "image"]) is None
    assert nearest("Hot_Offer", ["hot_offer", "info"]) == "hot_offer"


def test_one_duplicated_id_is_one_problem_not_a_cascade(tmp_path: Path) -> None:
    shutil.copytree(DEMO.parent, tmp_path, dirs_exist_ok=True)
    text = DEMO.read_text(encoding="utf-8")
    assert "  - id: q_pain\n" in text
    target = tmp_path / "demo.yaml"
    target.write_text(text.replace("  - id: q_pain\n", "  - id: q_niche\n", 1), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_funnel(target)
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1, found
    assert "step id 'q_niche' is already used at interview[3]" in found[0]


def test_a_really_unreachable_step_is_still_reported_next_to_a_duplicate(tmp_path: Path) -> None:
    text = BASE.replace("    - id: hot_later\n", "    - id: hot_offer\n").replace(
        "    - end: Sorry, we cannot help.\n",
        "    - end: Sorry, we cannot help.\n    - message: orphan\n",
    )
    found = problems(tmp_path, text)
    assert any("already used at funnels.hot[0]" in p for p in found), found
    assert any("step 'nope-2' can never be reached" in p for p in found), found


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("scenario: 1\nname: x\n  business: y\n", 3, "(column 3): this line is indented deeper"),
        ("a:\n  b: 1\n c: 2\n", 3, "the indentation does not line up"),
        ("scenario: 1\n\tname: x\n", 2, "a tab character: YAML indents with spaces only"),
        (
            'scenario: 1\nname: "oops\nbusiness: y\n',
            2,
            '(column 7): the " opened here is never closed',
        ),
        ("scenario: 1\nname: [unclosed\n", 2, "the '[' opened here is never closed with ']'"),
        (
            "scenario: 1\nname: Price: 100\n",
            2,
            "a ': ' inside an unquoted value; put the value in quotes",
        ),
        ("a: 1\nfoo\nb: 2\n", 2, "a line without 'key: value'"),
        ("name: @x\n", 1, "a value cannot begin with '@' unless it is in quotes"),
    ],
)
def test_yaml_syntax_errors_in_plain_words(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlProblem) as info:
        load_with_lines(text)
    assert info.value.line == line
    assert info.value.message.startswith("not valid YAML")
    assert words in info.value.message
    for jargon in ("<block", "cannot start any token", "scanning", "stream"):
        assert jargon not in info.value.message


def test_validate_counts_read_as_english(tmp_path: Path) -> None:
    assert (plural(1, "segment"), plural(2, "segment"), plural(0, "step")) == (
        "1 segment",
        "2 segments",
        "0 steps",
    )
    text = MINI.read_text(encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(write(tmp_path, text))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok (25 steps, 3 segments, 5 funnels, language en)")
