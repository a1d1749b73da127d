"""The benchmarks' results: one row of the summary table, percentiles, progress lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the summary table."""

    number: str
    name: str
    value: str
    target: str
    passed: bool | None  # None: not measured (skipped)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def say(message: str) -> None:
    print(f"  {message}", flush=True)
