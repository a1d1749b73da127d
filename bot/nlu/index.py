"""Which labelled phrases a text is nearest to: TF-IDF over stems and a nearest-centroid score.

Hand-written on purpose (about 80 lines): scikit-learn would bring numpy and scipy into the bot
process (40+ MB of RSS, against a budget of 20 MB over bare aiogram) to fit a few hundred short
phrases, which plain dicts do in milliseconds. The model is deterministic: the same phrases and
text give the same scores, to the last digit, on every run.

Features are word stems, a negation joined to the next stem, and, at a lower weight,
character n-grams of the stems, which let related forms the stemmer leaves apart
(сравниваем / сравнить) and small typos still meet.
Each label's score blends the cosine to its centroid (what its phrases say together) with the
cosine to its nearest phrase (one phrase said almost verbatim).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from bot.nlu.text import stems

Vector = dict[str, float]

CHAR_WEIGHT = 0.35  # character n-grams help, but a shared stem must count for more
NGRAM = 4
CENTROID_SHARE = 0.5
NEGATIONS = frozenset({"не", "нет", "без", "not", "no", "don't", "never", "can't"})


@dataclass(frozen=True, slots=True)
class Match:
    """One label's score for a text, with why: the shared stems and the nearest phrase."""

    label: str
    score: float
    terms: tuple[str, ...]
    phrase: str
    phrase_score: float


def features(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    words = stems(text)
    for first, second in pairwise(words):
        if first in NEGATIONS:  # «не готовы» is not «готовы»
            counts[f"w:{first}_{second}"] += 1
    for word in words:
        counts["w:" + word] += 1
        padded = f"<{word}>"
        if len(word) >= NGRAM:
            for i in range(len(padded) - NGRAM + 1):
                counts["c:" + padded[i : i + NGRAM]] += 1
    return counts


class PhraseIndex:
    """Labelled phrases, fitted once; ``rank`` scores any text against every label."""

    def __init__(
        self,
        idf: dict[str, float],
        centroids: dict[str, Vector],
        phrases: dict[str, list[tuple[str, Vector]]],
    ) -> None:
        self._idf = idf
        self._centroids = centroids
        self._phrases = phrases
        # What a term no phrase has would weigh: as rare as rare gets (document frequency 0).
        self._unseen_idf = max(idf.values(), default=1.0)

    @classmethod
    def fit(cls, labelled: Mapping[str, Sequence[str]]) -> PhraseIndex:
        """Learn from ``{label: [phrases]}``; labels without phrases are left out."""
        documents = [(label, p, features(p)) for label, ps in labelled.items() for p in ps]
        df: Counter[str] = Counter()
        for _, _, counts in documents:
            df.update(counts.keys())
        total = len(documents)
        idf = {term: math.log((1 + total) / (1 + n)) + 1 for term, n in sorted(df.items())}
        index = cls(idf, {}, {})
        for label, phrase, counts in documents:
            index._phrases.setdefault(label, []).append((phrase, index._vector(counts)))
        for label, items in index._phrases.items():
            centroid: Vector = {}
            for _, vector in items:
                for term, value in vector.items():
                    centroid[term] = centroid.get(term, 0.0) + value
            index._centroids[label] = _normalised(centroid)
        return index

    @property
    def labels(self) -> list[str]:
        return list(self._centroids)

    def rank(self, text: str, *, unseen: bool = False) -> list[Match]:
        """Every label with its score (0–1), best first; ties keep the fitting order.

        With ``unseen``, words no phrase has stay in the text's vector at the rarest weight,
        so they pull every score down: "сколько стоит айфон" is not "сколько стоит бот".
        The segment scorer leaves them out (a prospect's story is mostly such words); the
        knowledge base counts them (a question about something it never mentions is not its).
        """
        query = self._vector(features(text), unseen=unseen)
        matches = []
        for label, centroid in self._centroids.items():
            to_centroid = _dot(query, centroid)
            phrase, nearest = max(
                ((p, _dot(query, v)) for p, v in self._phrases[label]), key=lambda x: x[1]
            )
            score = CENTROID_SHARE * to_centroid + (1 - CENTROID_SHARE) * nearest
            shared = sorted(
                (t for t in query if t.startswith("w:") and t in centroid),
                key=lambda t: (-query[t] * centroid[t], t),
            )
            terms = tuple(t[2:] for t in shared)
            matches.append(Match(label, round(score, 6), terms, phrase, round(nearest, 6)))
        order = {label: i for i, label in enumerate(self._centroids)}
        return sorted(matches, key=lambda m: (-m.score, order[m.label]))

    def _vector(self, counts: Counter[str], *, unseen: bool = False) -> Vector:
        vector = {}
        for term, n in counts.items():
            idf = self._idf.get(term, self._unseen_idf if unseen else None)
            if idf is not None:
                weight = CHAR_WEIGHT if term.startswith("c:") else 1.0
                vector[term] = weight * (1 + math.log(n)) * idf
        return _normalised(vector)


def _normalised(vector: Vector) -> Vector:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


def _dot(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())
