"""Language tools shared by the offline classifier and the knowledge base: words, stems, matching.

Offline, deterministic and small: Snowball stemmers (PyStemmer's C build, no data files) and
a hand-sized TF-IDF model, so understanding free text costs the bot process about 1 MB.

Use::

    index = PhraseIndex.fit({"price": ["Сколько стоит?", "How much is it?"], ...})
    best = index.rank("а по деньгам во сколько выйдет?")[0]
    best.label, best.score, best.terms, best.phrase  # "price", 0.0–1.0, shared stems, nearest

A score is a cosine similarity (0 = no shared stem or n-gram), comparable across texts for one
index, so "none of these" is a threshold on ``rank(text)[0].score`` chosen by measuring it on
labelled data. Fit once (when the scenario loads) and keep the index: ``rank`` is read-only.
"""

from __future__ import annotations

from bot.nlu.index import Match, PhraseIndex
from bot.nlu.text import fold, keyword_hits, stems, tokens

__all__ = ["Match", "PhraseIndex", "fold", "keyword_hits", "stems", "tokens"]
