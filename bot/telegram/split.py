"""Telegram HTML that Telegram accepts: repaired, measured and split into sized parts.

Telegram refuses a whole message for one stray ``&`` or an unclosed ``<b>``, and refuses text
over 4096 characters; a refused message is a lost touch. So scenario HTML is first read into
atoms (a tag, an entity, or one visible character), repaired to Telegram's subset with tags
balanced, and only then cut - between atoms, preferring paragraph, line and sentence ends,
closing the tags open at a cut and reopening them in the next part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

MAX_TEXT = 4096
MAX_CAPTION = 1024

_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_TELEGRAM_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})
_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
#: Tags Telegram's HTML parse mode knows (``span`` only as ``class="tg-spoiler"``).
SUPPORTED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "tg-spoiler",
        "span",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_SENTENCE_ENDS = frozenset(".!?…")


@dataclass(frozen=True, slots=True)
class Atom:
    """The smallest unit a cut may not enter: a tag, an entity or one character."""

    raw: str
    char: str = ""  # what the user sees ("" for a tag)
    tag: str | None = None
    closing: bool = False

    @property
    def width(self) -> int:
        """Length as Telegram counts it (UTF-16 code units)."""
        return utf16_len(self.char)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text_atom(char: str) -> Atom:
    return Atom(_ESCAPES.get(char, char), char)


def _scan(source: str) -> list[Atom]:
    """Read HTML into atoms; anything Telegram would not parse becomes escaped text."""
    source = _BR.sub("\n", source)
    atoms: list[Atom] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<" and (match := _TAG.match(source, i)):
            raw = match.group(0)
            name = match.group(1).lower()
            if name in SUPPORTED_TAGS and (name != "span" or "tg-spoiler" in raw):
                atoms.append(Atom(raw, tag=name, closing=raw.startswith("</")))
            else:
                atoms.extend(_text_atom(c) for c in raw)
            i = match.end()
        elif char == "&" and (match := _ENTITY.match(source, i)):
            raw = match.group(0)
            decoded = html.unescape(raw)
            if decoded == raw:  # not an entity Python knows either: show it as typed
                atoms.extend(_text_atom(c) for c in raw)
            elif raw in _TELEGRAM_ENTITIES or raw.startswith("&#"):
                atoms.append(Atom(raw, decoded))
            else:  # a named entity Telegram lacks (&nbsp;, &mdash;): send the character
                atoms.extend(_text_atom(c) for c in decoded)
            i = match.end()
        else:
            atoms.append(_text_atom(char))
            i += 1
    return atoms


def _balance(atoms: list[Atom]) -> list[Atom]:
    """Drop stray closing tags, close crossed ones, and close whatever is left open."""
    out: list[Atom] = []
    stack: list[Atom] = []
    for atom in atoms:
        if atom.tag is None:
            out.append(atom)
        elif not atom.closing:
            stack.append(atom)
            out.append(atom)
        elif any(open_.tag == atom.tag for open_ in stack):
            while stack:
                open_ = stack.pop()
                out.append(_closer(open_))
                if open_.tag == atom.tag:
                    break
    out.extend(_closer(open_) for open_ in reversed(stack))
    return out


def _closer(opening: Atom) -> Atom:
    return Atom(f"</{opening.tag}>", tag=opening.tag, closing=True)


def repair(source: str) -> str:
    """``source`` as HTML Telegram will parse (escaped strays, balanced tags)."""
    return "".join(a.raw for a in _balance(_scan(source)))


def visible_text(source: str) -> str:
    """What the user will read, without markup."""
    return "".join(a.char for a in _scan(source))


@lru_cache(maxsize=2048)
def visible_len(source: str) -> int:
    """Remembered: a funnel sends the same few hundred texts to every lead (a third of the
    sending CPU went to scanning them again)."""
    return utf16_len(visible_text(source).strip())


def split(source: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut HTML into parts of at most ``limit`` visible characters, each well-formed."""
    return list(_split(source, limit))


@lru_cache(maxsize=2048)
def _split(source: str, limit: int) -> tuple[str, ...]:
    atoms = _balance(_scan(source))
    parts: list[str] = []
    carried: list[Atom] = []  # tags open where the current part starts
    start, end_all = 0, len(atoms)
    while start < end_all:
        while start < end_all and atoms[start].char.isspace():
            start += 1
        if start >= end_all:
            break
        stop, width = start, 0
        while stop < end_all and width + atoms[stop].width <= limit:
            width += atoms[stop].width
            stop += 1
        cut = end_all if stop >= end_all else _best_cut(atoms, start, stop)
        stack = list(carried)
        pieces = [a.raw for a in carried]
        for atom in atoms[start:cut]:
            pieces.append(atom.raw)
            if atom.tag is not None:
                if atom.closing:
                    stack.pop()
                else:
                    stack.append(atom)
        pieces.extend(_closer(open_).raw for open_ in reversed(stack))
        if "".join(a.char for a in atoms[start:cut]).strip():
            parts.append("".join(pieces))
        carried, start = stack, cut
    return tuple(parts)


def _best_cut(atoms: list[Atom], start: int, stop: int) -> int:
    """Where to end a part that would overflow at ``stop``: the best boundary before it.

    ``atoms[p]`` starts the next part, so ``p`` may be ``stop`` itself (a space that did not
    fit is dropped anyway). Paragraph ends win over line ends, then sentence ends, then
    spaces; with none of them the cut falls right at ``stop``.
    """
    first_text = next((i for i in range(start, stop) if atoms[i].char.strip()), stop)

    def visible_before(index: int) -> str:
        while index > start and atoms[index - 1].tag is not None:
            index -= 1
        return atoms[index - 1].char if index > start else ""

    def paragraph(p: int) -> bool:
        return atoms[p].char == "\n" and visible_before(p) == "\n"

    def line(p: int) -> bool:
        return atoms[p].char == "\n"

    def sentence(p: int) -> bool:
        return atoms[p].char.isspace() and visible_before(p) in _SENTENCE_ENDS

    def space(p: int) -> bool:
        return atoms[p].char.isspace()

    tests: tuple[Callable[[int], bool], ...] = (paragraph, line, sentence, space)
    last = min(stop, len(atoms) - 1)
    for test in tests:
        for p in range(last, first_text, -1):
            if test(p):
                return p
    return stop
