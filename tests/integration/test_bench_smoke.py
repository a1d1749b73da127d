"""``python -m bench`` still runs: a quick per-update benchmark, no timing asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_prints_its_table() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEST_POSTGRES_URL"}  # SQLite only
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # two bot processes, warm-up + three interleaved pairs of three kinds
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "leadbot benchmarks" in result.stdout
    assert "Per-update cost" in result.stdout
    assert any(verdict in result.stdout for verdict in ("PASS", "FAIL"))
