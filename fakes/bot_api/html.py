"""Telegram's HTML subset, parsed as Telegram does: a message it would refuse raises
``TelegramHTMLError`` with Telegram's own wording, so a test fails where the bot would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, NoReturn


class TelegramHTMLError(ValueError):
    """Raised for text Telegram would answer with "can't parse entities"."""


@dataclass
class ParsedText:
    """Text as the user sees it plus the entities Telegram would report back."""

    text: str
    entities: list[dict[str, Any]]


SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramHTMLParser(HTMLParser):
    """Strict parser for Telegram's HTML subset; anything else raises ``TelegramHTMLError``."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", source))]
        self._chunks: list[str] = []
        self._length = 0  # UTF-16 units, as Telegram measures entity offsets
        self._stack: list[tuple[str, dict[str, Any] | None, int]] = []
        self.entities: list[dict[str, Any]] = []

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def _pos(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _byte_offset(self, extra: int = 0) -> int:
        return len(self._source[: self._pos() + extra].encode())

    def _fail(self, message: str) -> NoReturn:
        raise TelegramHTMLError(message)

    def _emit(self, text: str) -> None:
        self._chunks.append(text)
        self._length += utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        entity: dict[str, Any] | None
        if tag in SIMPLE_TAGS:
            entity = {"type": SIMPLE_TAGS[tag]}
            if tag == "blockquote" and "expandable" in attributes:
                entity = {"type": "expandable_blockquote"}
            language = attributes.get("class") or ""
            if tag == "code" and self._stack and self._stack[-1][0] == "pre":
                pre_entity = self._stack[-1][1]
                if pre_entity is not None and language.startswith("language-"):
                    pre_entity["language"] = language.removeprefix("language-")
                entity = None  # Telegram folds <pre><code> into a single pre entity
        elif tag == "span":
            if attributes.get("class") != "tg-spoiler":
                self._fail(f'Unsupported start tag "span" at byte offset {self._byte_offset()}')
            entity = {"type": "spoiler"}
        elif tag == "a":
            href = attributes.get("href")
            entity = {"type": "text_link", "url": href} if href else None
        elif tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id")
            if not emoji_id:
                self._fail(
                    f"Custom emoji identifier must be specified at byte offset "
                    f"{self._byte_offset()}"
                )
            entity = {"type": "custom_emoji", "custom_emoji_id": emoji_id}
        else:
            self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        self._stack.append((tag, entity, self._length))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            self._fail(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity, start = self._stack.pop()
        if open_tag != tag:
            self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        if entity is not None and self._length > start:
            self.entities.append({**entity, "offset": start, "length": self._length - start})

    def handle_data(self, data: str) -> None:
        for char, escaped in (("<", "&lt;"), (">", "&gt;"), ("&", "&amp;")):
            index = data.find(char)
            if index >= 0:
                self._fail(
                    f'Character "{char}" is reserved and must be escaped with "{escaped}" '
                    f"at byte offset {self._byte_offset(index)}"
                )
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES or not self._source.startswith(f"&{name};", self._pos()):
            self._fail(f'Unsupported HTML entity "&{name}" at byte offset {self._byte_offset()}')
        self._emit(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        if not self._source.startswith(f"&#{name};", self._pos()):
            self._fail(f"Unterminated numeric entity at byte offset {self._byte_offset()}")
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            char = chr(code)
        except (ValueError, OverflowError):
            self._fail(f'Invalid numeric entity "&#{name};" at byte offset {self._byte_offset()}')
        self._emit(char)

    def handle_comment(self, data: str) -> None:
        self._fail(f"Unsupported comment at byte offset {self._byte_offset()}")

    def handle_decl(self, decl: str) -> None:
        self._fail(f"Unsupported declaration at byte offset {self._byte_offset()}")

    def handle_pi(self, data: str) -> None:
        self._fail(f"Unsupported processing instruction at byte offset {self._byte_offset()}")

    def unknown_decl(self, data: str) -> None:
        self._fail(f"Unsupported declaration at byte offset {self._byte_offset()}")

    def finish(self) -> ParsedText:
        self.close()
        if self._stack:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"')
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText(text=self.text, entities=entities)


def parse_telegram_html(source: str) -> ParsedText:
    """Parse ``source`` like Telegram does for ``parse_mode=HTML``.

    Raises ``TelegramHTMLError`` with a Telegram-like reason for anything Telegram would reject.
    """
    parser = TelegramHTMLParser(source)
    parser.feed(source)
    return parser.finish()
