"""Words and stems for Russian and English: one tokeniser, one folding, one stemmer per script.

Snowball stems rather than dictionary lemmas (pymorphy3): no data files, about 1 MB of RSS,
where pymorphy3's dictionaries cost several times that, and for matching a prospect's words
to an operator's phrases a stem is enough (договора → договор, готовы → готов). Each word is
stemmed by its own script, so mixed-language text works.

``snowballstemmer`` runs PyStemmer's C build of the same algorithms when it is installed (a
dependency): without it the package imports its pure-Python stemmers for all 34 languages,
~3 MB of a running bot's memory for two of them, and stems several times slower. The stems
are the same (checked on the 3,500 words of the scenarios and test sets).
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_CYRILLIC = re.compile(r"[а-я]")
_RUSSIAN = snowballstemmer.stemmer("russian")
_ENGLISH = snowballstemmer.stemmer("english")

# Function words that say nothing about who a prospect is. Negations (не, нет, no, not) and
# words of intent or need (хочу, нужен, want, need) stay: they do carry it.
_STOP_WORDS = """
    а без бы был была были было быть в вам вас вам ваш ваша ваше ваши весь во вот все всё
    всего вы где да даже для до его ее её ей ему если есть еще ещё же за здесь и из или им
    их к как ко когда кто ли либо между меня мне мной мой моя мое моё мои мы на над нам нас
    наш наша наше наши него нее неё ней нем нём них но ну о об однако он она они оно от по
    под при про раз с сам сама само сами свой своя свое своё свои себе себя со так такая
    также такие такой там те тем то тоже той только том тот ту ты у уж уже хоть чем через
    что чтобы чье чья эта эти это этого этой этом этот эту я
    здравствуйте привет добрый день вечер утро пожалуйста спасибо
    a about above after again all also am an and any are as at be because been before
    being both but by can could did do does doing done during each few for from further
    had has have having he her here hers him his how i i'd i'll i'm i've if in into is it
    it's its itself just me more most my myself of off on once only or other our ours out
    over own same she should so some such than that that's the their theirs them then there
    these they this those through to too under until up very was we we'd we'll we're we've
    were what when where which while who whom why will with would you you'd you'll you're
    your yours like hi hello hey thanks thank please
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


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
    return (
        word_stem == want_stem
        or word.startswith(want)
        or (len(want_stem) >= 4 and word_stem.startswith(want_stem))
    )
