"""The body of ``leadbot eval --knowledge``: load, look every question up, score, print.

A labelled file may mix languages (``"lang": "en"``). Each question is measured on the
scenario in its language: the one given, or its sibling file by the demo's naming
(``demo.yaml`` / ``demo.en.yaml``); lines in a language with no scenario are left out, and
the report says so rather than scoring English questions against a Russian base.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from bot.knowledge.evaluate import KnowledgeScore, lines, read_examples, score
from bot.knowledge.librarian import Librarian
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel


async def run_knowledge_eval(
    funnel: Funnel,
    librarian: Librarian,
    data: Path,
    *,
    name: str,
    source: str = "",
    console: Console | None = None,
) -> KnowledgeScore:
    """Score ``librarian`` on the labelled file; the caller builds and closes it."""
    console = console or Console()
    by_language, sources, missing = _scenarios(funnel, source, _languages(data))
    examples = read_examples(data, funnel, by_language)
    left_out = [e for e in examples if e.lang in missing]
    examples = [e for e in examples if e.lang not in missing]
    console.print(f"{funnel.scenario.name} ({', '.join(sources)}) · {name} · {data}")
    if left_out:
        console.print(
            f"left out: {len(left_out)} questions in {', '.join(sorted(missing))}"
            " (no scenario in that language next to the one given)",
            highlight=False,
        )
    result = await score(funnel, librarian, examples, by_language)
    for line in lines(result):
        console.print(line, highlight=False)
    if len(by_language) > 1:
        for lang, its in sorted(by_language.items()):
            part = await score(its, librarian, [e for e in examples if e.lang == lang])
            console.print(
                f"  {lang}: {part.total} questions, accuracy {part.accuracy:.1%}, precision of"
                f' "answered" {part.precision:.1%}, false answers {part.false_answers}',
                highlight=False,
            )
    return result


def _languages(data: Path) -> set[str]:
    found = set()
    try:
        for line in data.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # read_examples names it
            if isinstance(item, dict) and isinstance(item.get("lang"), str):
                found.add(item["lang"])
    except OSError:
        pass  # read_examples says why it cannot be read
    return found


def _scenarios(
    funnel: Funnel, source: str, languages: set[str]
) -> tuple[dict[str, Funnel], list[str], set[str]]:
    """The scenario of each language asked about, their files, and languages without one."""
    own = funnel.scenario.language
    by_language: dict[str, Funnel] = {own: funnel}
    sources, missing = [source or own], set[str]()
    for lang in sorted(languages - {own}):
        sibling = _sibling(Path(source), lang) if source else None
        if sibling is None:
            missing.add(lang)
            continue
        other = load_funnel(sibling)
        if other.scenario.language != lang:
            missing.add(lang)
            continue
        by_language[lang] = other
        sources.append(str(sibling))
    return by_language, sources, missing


def _sibling(path: Path, lang: str) -> Path | None:
    """``demo.yaml`` → ``demo.en.yaml`` for "en"; ``demo.en.yaml`` → ``demo.yaml`` otherwise."""
    stem = path.name.removesuffix(path.suffix)
    base = stem.rsplit(".", 1)[0] if "." in stem else stem
    for name in (f"{base}.{lang}{path.suffix}", f"{base}{path.suffix}"):
        candidate = path.with_name(name)
        if candidate != path and candidate.exists():
            return candidate
    return None
