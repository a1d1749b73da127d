"""Language tools shared by the offline classifier and the knowledge base: words, stems, matching.

Offline, deterministic and small: Snowball stemmers (pure Python, no data files) and a
hand-sized TF-IDF model, so understanding free text costs the bot process about 3 MB.
"""

from __future__ import annotations

from bot.nlu.index import Match, PhraseIndex
from bot.nlu.text import fold, keyword_hits, stems, tokens

__all__ = ["Match", "PhraseIndex", "fold", "keyword_hits", "stems", "tokens"]
