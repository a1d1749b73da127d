"""One funnel in several languages: sibling files that must be the same funnel in other words.

A scenario names its translations (``translations: {en: demo.en.yaml}``); each sibling is a
whole scenario file in its language, so an operator (or a translator) edits plain texts in
a file that validates and tests on its own. The engine picks a lead's file by the lead's
Telegram ``language_code`` and falls back to the main file's language. Because a lead moves
between them by language alone, the files must agree on everything but words: the same
steps with the same ids and kinds, the same segments, prices, timers and targets, and every
text present in one present in the other. ``parity`` checks exactly that, field by field.

Sibling files, not per-text ``{ru: .., en: ..}`` mappings, because the model, the validator
with its line numbers, the scenario tests and the demo all keep working unchanged, and a
translation is reviewed as one readable file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.scenario.model import Scenario

#: Fields whose string values are structure (ids, targets, kinds, codes), never words:
#: they must be equal in every language.
# fmt: off
STRUCTURAL = frozenset(
    {
        "id", "goto", "key", "on_timeout", "on_skip", "on_decline", "on_click", "on_reply",
        "default", "funnel", "segment", "cap", "branch", "tier", "currency", "ask",
        "after_purchase", "readiness", "stage", "timezone", "scenario", "crm_events",
        "subscription",
    }
)
# fmt: on
#: Lists a language may make longer or shorter: phrasings the classifier and the knowledge
#: base match against, naturally different in number from one language to another.
FREE_LENGTH = frozenset({"keywords", "examples", "questions", "phrases", "in"})
#: Top-level fields that belong to the main file only.
OWN = frozenset({"language", "translations", "name", "business"})

Where = tuple[str | int, ...]


def language_of(code: str | None) -> str:
    """``en-US`` → ``en``: Telegram's ``language_code`` is an IETF tag; the primary part picks."""
    return (code or "").split("-")[0].split("_")[0].strip().lower()


def parity(main: Scenario, other: Scenario) -> list[tuple[Where, str]]:
    """Where ``other`` is not the same funnel as ``main`` (path in ``other``, message)."""
    a = main.model_dump(by_alias=True)
    b = other.model_dump(by_alias=True)
    return list(_compare(a, b, (), main.language, other.language))


def _compare(a: Any, b: Any, where: Where, la: str, lb: str) -> Iterator[tuple[Where, str]]:
    field = next((p for p in reversed(where) if isinstance(p, str)), "")
    if len(where) == 1 and where[0] in OWN:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() - b.keys():
            yield (*where, key), f"given in {la} but missing in {lb}"
        for key in b.keys() - a.keys():
            yield (*where, key), f"given in {lb} but missing in {la}"
        for key in a.keys() & b.keys():
            yield from _compare(a[key], b[key], (*where, key), la, lb)
    elif isinstance(a, list) and isinstance(b, list):
        if field in FREE_LENGTH and all(isinstance(x, str) for x in (*a, *b)):
            return
        if len(a) != len(b):
            yield where, f"has {len(b)} entries in {lb} but {len(a)} in {la}"
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _compare(x, y, (*where, i), la, lb)
    elif (a is None) != (b is None):
        given, missing = (la, lb) if b is None else (lb, la)
        yield where, f"given in {given} but missing in {missing}"
    elif isinstance(a, str) and isinstance(b, str) and field not in STRUCTURAL:
        return  # words: they are what a translation changes
    elif a != b:
        yield where, f"is {_value(b)} in {lb} but {_value(a)} in {la}: only words may differ"


def _value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


__all__ = ["FREE_LENGTH", "STRUCTURAL", "language_of", "parity"]
