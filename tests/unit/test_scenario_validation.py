"""Broken scenario files: every mistake reported at once, each with file, line and path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.scenario.loader import ScenarioError, load_funnel
from tests.conftest import MINI


def write(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "broken.yaml"
    target.write_text(text, encoding="utf-8")
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets", dirs_exist_ok=True)
    return target


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_funnel(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BASE = MINI.read_text(encoding="utf-8")


def test_the_mini_scenario_is_valid() -> None:
    funnel = load_funnel(MINI)
    assert funnel.start == "hello"
    assert funnel.following("hot_offer") == "hot-2"


def test_five_planted_mistakes_all_reported_with_lines(tmp_path: Path) -> None:
    text = (
        BASE.replace("    - wait: 2h\n", "    - wait: 2 dayz\n")
        .replace("goto: hot_later}", "goto: hot_latr}")
        .replace("      price: 1000\n", "      price: lots\n")
        .replace('    message: "Hello, {first_name}!"', '    message: "Hello, {frist_name}!"')
        .replace(
            "    - end: Sorry, we cannot help.\n",
            "    - end: Sorry, we cannot help.\n    - message: orphan\n",
        )
    )
    found = problems(tmp_path, text)
    expected = [
        (line_of(text, "wait: 2 dayz"), "funnels.hot[1].wait: '2 dayz' is not a duration"),
        (line_of(text, "hot_latr"), "funnels.hot[0].buttons[0].goto: unknown step 'hot_latr'"),
        (line_of(text, "price: lots"), "funnels.hot[0].price: 'lots' is not a number"),
        (line_of(text, "Hello, {frist"), "interview[0].message: unknown field '{frist_name}'"),
        (line_of(text, "message: orphan"), "funnels.nope[1]: step 'nope-2' can never be reached"),
    ]
    assert len(found) == 5, found
    for line, fragment in expected:
        prefix = f"{tmp_path / 'broken.yaml'}:{line} {fragment}"
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def test_unknown_step_unreachable_step_and_loop(tmp_path: Path) -> None:
    text = BASE.replace(
        "  nope:\n    - end: Sorry, we cannot help.\n",
        "  nope:\n    - end: Sorry, we cannot help.\n"
        "    - id: orphan\n      message: nobody comes here\n"
        "    - id: spin\n      message: round\n    - goto: spin\n",
    )
    found = problems(tmp_path, text)
    assert any("funnels.nope[1]: step 'orphan' can never be reached" in p for p in found)
    assert any("loop without a wait: spin → nope-4 → spin" in p for p in found)


def test_loop_with_a_wait_is_fine(tmp_path: Path) -> None:
    text = BASE.replace(
        "  nope:\n    - end: Sorry, we cannot help.\n",
        "  nope:\n    - id: again\n      message: ping\n    - wait: 1d\n    - goto: again\n",
    )
    load_funnel(write(tmp_path, text))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "readiness: ready_to_buy",
            "readiness: eager",
            "segments.hot.readiness: 'eager' is not one of",
        ),
        (
            "      tier: core\n",
            "      tier: premium\n",
            "funnels.hot[0].tier: 'premium' is not one of",
        ),
        ("    - wait: 1d\n", "    - wait: 5\n", "funnels.info[1].wait: 5 has no unit"),
        ("    - end: true\n", "    - end: true\n      colour: red\n", "unknown field 'colour'"),
        (
            "    - goto: info_end\n",
            "    - say: hi\n",
            "funnels.info[4]: a step needs exactly one of",
        ),
        (
            "    fallback: true\n",
            "",
            "segments: exactly one segment must be marked 'fallback: true'",
        ),
        ("      cap: info\n", "      cap: infos\n", "classifier.rules[0]: unknown segment 'infos'"),
        (
            "document: assets/guide.pdf",
            "document: assets/nope.pdf",
            "funnels.info[0].document: file 'assets/nope.pdf' not found",
        ),
        (
            "    - id: hot_later\n",
            "    - id: hot_offer\n",
            "funnels.hot[2].id: step id 'hot_offer' is already used at funnels.hot[0]",
        ),
        (
            "      branch: budget\n",
            "      branch: budgte\n",
            "funnels.info[2].branch: no question stores an answer 'budgte'",
        ),
        ("scenario: 1\n", "scenario: 1\nscenario: 2\n", "key 'scenario' appears twice"),
        (
            "        - {equals: big, goto: info_big}",
            "        - {goto: info_big}",
            "a case needs exactly one of 'equals', 'in' or 'contains'",
        ),
        ("name: Mini shop\n", "", "missing required field 'name'"),
        (
            "    - when: {budget: tiny}",
            "    - when: {budget: tiyn}",
            "classifier.rules[0].when.budget: 'tiyn' is never an answer to 'budget'",
        ),
        (
            "    - when: {budget: tiny}",
            "    - when: {x: y}\n      cap: info\n    - when: {budget: tiny}",
            "classifier.rules[0].when.x: no question of the interview stores an answer 'x'",
        ),
        ("  debounce: 0s\n", "  debounce: 3\n", "classifier.debounce: 3 has no unit"),
        (
            "texts:\n",
            "sending_window: {start: 9, end: 21:00}\ntexts:\n",
            "sending_window.start: 9 is not a time of day",
        ),
        (
            "  unknown: Please use the buttons.",
            "  unknown: Please {frist_name}",
            "texts.unknown: unknown field '{frist_name}'",
        ),
        (
            "  - id: q_budget\n    question: Your budget?\n    key: budget\n",
            "  - id: Q-Budget\n    question: Your budget?\n",
            "interview[2]: the answer needs a name: add 'key:'",
        ),
        (
            "        - {equals: big, goto: info_big}",
            "        - {equals: bgi, goto: info_big}",
            "funnels.info[2].cases[0]: 'bgi' is never an answer to 'budget'",
        ),
        (
            "timeout: 1h\n",
            "timeout: 1h\n    on_timeout: classify\n",
            "key 'on_timeout' appears twice",
        ),
    ],
)
def test_each_mistake_has_a_clear_message(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    found = problems(tmp_path, BASE.replace(old, new, 1))
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "broken.yaml") + ":") for p in found)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "scenario: 1\nname: [unclosed\n")
    assert len(found) == 1 and "not valid YAML" in found[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_funnel(tmp_path / "none.yaml")


def test_validate_command_prints_ok_or_errors(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(MINI)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("ok")
    bad = write(tmp_path, BASE.replace("    - wait: 2h\n", "    - wait: 2 dayz\n"))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "funnels.hot[1].wait: '2 dayz' is not a duration" in result.stdout
    assert "1 problem found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unquoted_clock_times_are_times(tmp_path: Path) -> None:
    text = BASE.replace("texts:\n", "sending_window: {start: 09:00, end: 21:00}\ntexts:\n")
    funnel = load_funnel(write(tmp_path, text))
    assert funnel.scenario.sending_window is not None
    assert str(funnel.scenario.sending_window.end) == "21:00:00"
