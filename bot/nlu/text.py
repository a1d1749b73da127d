"""Words and stems for Russian and English: one tokeniser, one folding, one stemmer per script.

Snowball stems rather than dictionary lemmas (pymorphy3): the stemmers are pure Python with no
data files and cost ~3 MB of RSS, where pymorphy3's dictionaries cost several times that, and
for matching a prospect's words to an operator's phrases a stem is enough (договора → договор,
готовы → готов). Each word is stemmed by its own script, so mixed-language text works.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_CYRILLIC = re.compile(r"[а-я]")
_RUSSIAN = snowballstemmer.stemmer("russian")
_ENGLISH = snowballstemmer.stemmer("english")

# Words that carry no meaning for telling prospects apart. Negations (не, no, not) and words
# of intent (хочу, want) stay: they do carry it.
STOP_WORDS = frozenset(
    """
    а в во вот все всё вы да для до его ее её если есть же за и из или им их к как ко ли
    мы на над наш наша наше наши не ни но о об от по под при про с со так там то тоже ты
    у уже чем что чтобы это эта этот эти я мне меня мой моя мои нас нам вас вам ваш ваша
    ваше ваши он она оно они бы был была были быть будет будем здравствуйте привет добрый
    день пожалуйста спасибо
    a an and are as at be been but by do does for from have has i i'm im in is it it's its
    me my of on or our so that the their them there this to us was we we're were what
    which who will with you your hi hello thanks please
    """.split()
)


def fold(text: str) -> str:
    """Case- and ё-insensitive form of a text (ё and е are one letter to most writers)."""
    return text.casefold().replace("ё", "е")


def tokens(text: str) -> list[str]:
    """The words of a text, folded; digits and hyphenated words kept whole."""
    return [t.replace("’", "'") for t in _WORD.findall(fold(text))]


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """One folded word's stem, by the stemmer of its script."""
    if _CYRILLIC.search(word):
        return str(_RUSSIAN.stemWord(word))
    if word.isascii() and word.isalpha():
        return str(_ENGLISH.stemWord(word))
    return word


def stems(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """The stems of a text's meaningful words, in order."""
    return [stem(t) for t in tokens(text) if keep_stop_words or t not in STOP_WORDS]


def keyword_hits(keywords: list[str], text: str) -> list[str]:
    """The operator's keywords found in a text, matched word by word on word forms.

    A keyword word matches a text word with the same stem (договора ~ договор) or one it
    begins (operators write prefixes like «сравн» on purpose); a phrase matches its words in
    a row. Unlike a substring test, «смет» does not fire inside «косметика».
    """
    words = tokens(text)
    word_stems = [stem(w) for w in words]
    found = []
    for keyword in keywords:
        wanted = tokens(keyword)
        if wanted and _phrase_at(wanted, words, word_stems):
            found.append(keyword)
    return found


def _phrase_at(wanted: list[str], words: list[str], word_stems: list[str]) -> bool:
    wanted_stems = [stem(w) for w in wanted]
    size = len(wanted)
    for start in range(len(words) - size + 1):
        if all(
            _word_matches(wanted[i], wanted_stems[i], words[start + i], word_stems[start + i])
            for i in range(size)
        ):
            return True
    return False


def _word_matches(want: str, want_stem: str, word: str, word_stem: str) -> bool:
    return word_stem == want_stem or word.startswith(want) or (
        len(want_stem) >= 4 and word_stem.startswith(want_stem)
    )
