"""Offline retrieval over the entries' example phrasings, with the shared text model.

The entries' ``questions:`` are fitted into a ``bot.nlu.PhraseIndex`` (TF-IDF over Snowball
stems and character n-grams, nearest-centroid scoring), the same model the offline classifier
learns segment examples with, so word forms (``договора`` / ``договор``) and small typos meet.
Words no phrase has count against a match (``unseen=True``): a question about something the
base never mentions is not its question, however many of its other words it shares.
The index is fitted once per set of entries and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.nlu import PhraseIndex
from bot.scenario.model import KnowledgeEntry

#: At or above this score an entry answers. Tuned on tests/data/knowledge_dev.jsonl (the demo
#: base, 104 questions, a third of them ones it cannot answer), never on tests/data/eval/:
#: 0.35 keeps the precision of "answered" above 90% at near-best accuracy; below it off-topic
#: look-alikes ("сколько стоит айфон") get answered, above it real questions are missed.
ANSWER_THRESHOLD = 0.35


@dataclass(frozen=True, slots=True)
class Ranked:
    entry: str
    score: float


def rank_entries(entries: list[KnowledgeEntry], text: str) -> list[Ranked]:
    """Entries by how close ``text`` is to their phrasings, best first."""
    index = _index(tuple((e.id, tuple(e.questions)) for e in entries))
    if index is None:
        return []
    ranked = [
        Ranked(m.label, round(m.score, 3)) for m in index.rank(text, unseen=True) if m.score > 0
    ]
    ranked.sort(key=lambda r: (-r.score, r.entry))
    return ranked


def best_entry(entries: list[KnowledgeEntry], text: str) -> Ranked | None:
    """The answering entry, or None when nothing is close enough to answer honestly."""
    ranked = rank_entries(entries, text)
    if ranked and ranked[0].score >= ANSWER_THRESHOLD:
        return ranked[0]
    return None


@lru_cache(maxsize=16)
def _index(key: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseIndex | None:
    labelled = {entry_id: list(questions) for entry_id, questions in key if questions}
    return PhraseIndex.fit(labelled) if labelled else None
