""" "Did you mean …" for names an operator misspelled, from the names the file does know.

difflib's ratio is enough here: the candidates are a few dozen ids and keywords, and a
typo in one of them (``qestion``, ``hot_latr``) is one or two edits away.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``word``, if one is close enough to be a typo of it."""
    names = sorted({str(name) for name in known} - {word})
    found = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not found:
        # Case slips (Hot_Offer for hot_offer) are typos too.
        folded = {name.casefold(): name for name in names}
        hit = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
        return folded[hit[0]] if hit else None
    return found[0]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` to append to a message, or an empty string."""
    guess = nearest(word, known)
    return f" (did you mean '{guess}'?)" if guess else ""


__all__ = ["did_you_mean", "nearest"]
