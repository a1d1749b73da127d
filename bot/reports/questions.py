"""What prospects ask: the most frequent unanswered questions and the most used entries.

So the operator knows which answers to add to the knowledge base, and which ones work.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.scenario.funnel import Funnel
from storage.db import Database
from storage.questions import asked_questions

TOP = 20


@dataclass(slots=True)
class QuestionReport:
    asked: int = 0
    answered: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    entries: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)  # normalised text -> times
    unused: list[str] = field(default_factory=list)  # entries nobody needed in the period


def normalise(text: str) -> str:
    """One spelling per question: case, spaces and trailing punctuation do not split counts."""
    return " ".join(text.casefold().split()).rstrip("?!. ")


async def question_report(
    db: Database, funnel: Funnel, since: datetime | None = None, until: datetime | None = None
) -> QuestionReport:
    report = QuestionReport()
    async with db.session() as session:
        async for q in asked_questions(session, since, until):
            report.asked += 1
            report.by_path[q.path] += 1
            if q.entry is not None:
                report.answered += 1
                report.entries[q.entry] += 1
            else:
                report.unanswered[normalise(q.text) if q.text else "(text erased)"] += 1
    report.unused = [e.id for e in funnel.scenario.knowledge if e.id not in report.entries]
    return report


def as_dict(report: QuestionReport, top: int = TOP) -> dict[str, Any]:
    return {
        "asked": report.asked,
        "answered": report.answered,
        "by_path": dict(report.by_path),
        "entries": [{"entry": k, "times": n} for k, n in report.entries.most_common(top)],
        "unanswered": [{"text": k, "times": n} for k, n in report.unanswered.most_common(top)],
        "unused_entries": report.unused,
    }


def lines(report: QuestionReport, top: int = TOP) -> list[str]:
    """The report as plain lines for a terminal."""
    if not report.asked:
        return ["no questions were asked in this period"]
    share = report.answered / report.asked
    out = [f"questions: {report.asked}, answered from the knowledge base: {share:.0%}"]
    paths = ", ".join(f"{k} {n}" for k, n in sorted(report.by_path.items()))
    out.append(f"decided by: {paths}")
    out.append("most frequent unanswered (add these to `knowledge:`):")
    out += [f"  {n:>4}  {text}" for text, n in report.unanswered.most_common(top)] or ["  none"]
    out.append("most used entries:")
    out += [f"  {n:>4}  {entry}" for entry, n in report.entries.most_common(top)] or ["  none"]
    if report.unused:
        out.append(f"entries never used: {', '.join(report.unused)}")
    return out
