"""Operators' tools: scenario tests, the JSON Schema for editors, the funnel's picture."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.operator.graph import to_dot, to_mermaid
from bot.operator.scenario_tests import run_tests
from bot.operator.schema import scenario_schema
from bot.scenario.funnel import Funnel
from tests.conftest import DATA, MINI, ROOT


def leadbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_mini_scenario_tests_pass(mini: Funnel) -> None:
    report = run_tests(mini, DATA / "mini.tests.yaml")
    assert report.failures == [] and len(report.passed) == 2


def test_a_wrong_expectation_fails_with_step_and_texts(tmp_path: Path) -> None:
    wrong = (
        (DATA / "mini.tests.yaml")
        .read_text()
        .replace("      - bot: Machine X for Ann", "      - bot: Machine Y for Ann")
    )
    (tmp_path / "mini.tests.yaml").write_text(wrong)
    result = leadbot("test-scenario", str(MINI), "--tests", str(tmp_path / "mini.tests.yaml"))
    assert result.returncode == 1
    line = next(i for i, t in enumerate(wrong.splitlines(), 1) if "Machine Y" in t)
    assert (
        f"mini.tests.yaml:{line} a buyer clicks the offer and is handed to a manager "
        f"(line {line}): expected the bot to say 'Machine Y for Ann', got 'Machine X for Ann' "
        "(at step 'hot-2')"
    ) in result.stdout
    assert "1 passed, 1 failed" in result.stdout


def test_wrong_final_segment_is_reported(mini: Funnel, tmp_path: Path) -> None:
    wrong = (
        (DATA / "mini.tests.yaml")
        .read_text()
        .replace("      segment: info\n", "      segment: hot\n")
    )
    (tmp_path / "t.yaml").write_text(wrong)
    report = run_tests(mini, tmp_path / "t.yaml")
    assert [str(f).split(": ", 1)[1] for f in report.failures] == [
        "expected segment 'hot', got 'info'"
    ]


def test_demo_scenario_tests_pass(demo_path: Path) -> None:
    tests = demo_path.with_name("demo.tests.yaml")
    if not tests.exists():
        pytest.skip("no demo tests yet")
    result = leadbot("test-scenario", str(demo_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_schema_is_current_and_describes_steps() -> None:
    schema = scenario_schema()
    shipped = json.loads((ROOT / "scenarios" / "scenario.schema.json").read_text())
    assert shipped == json.loads(json.dumps(schema)), (
        "run: leadbot schema -o scenarios/scenario.schema.json"
    )
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    assert {"MessageStep", "OfferStep", "WaitStep", "ConsentStep"} <= set(defs)


def test_graph_as_dot_and_mermaid(mini: Funnel) -> None:
    dot = to_dot(mini, reach={"hello": 7})
    assert 'subgraph "cluster_hot"' in dot and '"hot_offer" -> "hot_call"' in dot
    assert "reached: 7" in dot
    mermaid = to_mermaid(mini)
    assert (
        mermaid.startswith("flowchart TD") and "s_q_about -.->|no reply 1h| s_classify" in mermaid
    )


def test_graph_command_draws_the_demo(tmp_path: Path, demo_path: Path) -> None:
    result = leadbot("graph", str(demo_path), "-o", str(tmp_path / "demo.mmd"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo.mmd").read_text().startswith("flowchart TD")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    result = leadbot("graph", str(demo_path), "-o", str(tmp_path / "demo.svg"))
    assert result.returncode == 0, result.stderr
    assert "<svg" in (tmp_path / "demo.svg").read_text()


def test_shipped_scenarios_satisfy_the_schema_editors_use() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(scenario_schema())
    for path in [ROOT / "scenarios" / "demo.yaml", ROOT / "scenarios" / "demo.en.yaml", MINI]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert [e.message for e in validator.iter_errors(data)] == [], path
    broken = yaml.safe_load(MINI.read_text().replace("tier: core", "tier: premium"))
    assert any("premium" in e.message for e in validator.iter_errors(broken))
