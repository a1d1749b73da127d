"""Offline retrieval over the entries' example phrasings.

A casefolded token overlap with a crude five-letter prefix as the "stem", so ``договора``
meets ``договор`` and ``prices`` meets ``price``. It sits behind ``rank_entries`` alone so a
proper morphology-aware index (bot/nlu) can replace it in one place.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.scenario.model import KnowledgeEntry

#: At or above this score an entry answers; tuned on tests/data/knowledge_eval.jsonl.
ANSWER_THRESHOLD = 0.34
_WORD = re.compile(r"\w+", re.UNICODE)
_PREFIX = 5
# Function words and question words carry no topic: "сколько стоит" and "сколько длится"
# must not look alike because of "сколько".
_STOP = frozenset(
    """
    а и в во на с со по у о об к ко за из от до для не ни ли же ну то это этот эта эти как
    какой какая какие каков сколько когда где почему зачем что чем кто можно есть ваш ваша
    ваши вас вы вам мне меня мы нас нам я он она они там тут так бы быть будет ли или но
    скажите подскажите расскажите пожалуйста а если
    a an the and or of to in on at for by with is are was be do does did can could would
    should will you your we our i me my it its this that what how when where why who which
    there any some please tell about have has
    """.split()  # noqa: SIM905 -- a word list reads better as words
)


@dataclass(frozen=True, slots=True)
class Ranked:
    entry: str
    score: float


def terms(text: str) -> set[str]:
    """The topic words of a text, reduced to a crude stem."""
    words = _WORD.findall(text.casefold().replace("ё", "е"))
    return {w[:_PREFIX] for w in words if w not in _STOP and not w.isdigit() and len(w) > 1}


def rank_entries(entries: list[KnowledgeEntry], text: str) -> list[Ranked]:
    """Entries by their best phrasing's overlap with ``text`` (cosine of term sets), best first."""
    asked = terms(text)
    if not asked:
        return []
    out = []
    for entry in entries:
        best = 0.0
        for phrasing in entry.questions:
            known = terms(phrasing)
            if known:
                shared = len(asked & known)
                best = max(best, shared / math.sqrt(len(asked) * len(known)))
        if best > 0:
            out.append(Ranked(entry.id, round(best, 3)))
    out.sort(key=lambda r: (-r.score, r.entry))
    return out


def best_entry(entries: list[KnowledgeEntry], text: str) -> Ranked | None:
    """The answering entry, or None when nothing is close enough to answer honestly."""
    ranked = rank_entries(entries, text)
    if ranked and ranked[0].score >= ANSWER_THRESHOLD:
        return ranked[0]
    return None
