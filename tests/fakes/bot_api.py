"""In-process fake of the Telegram Bot API, spoken to over real HTTP.

Tests point a real aiogram ``Bot`` at this server (``TelegramAPIServer.from_base``) so that
aiogram's own request encoding (urlencoded or multipart form, JSON-encoded complex fields) and its
error mapping (400/403/409/429 -> exceptions) are exercised, instead of mocking ``Bot`` methods.
The server checks what real Telegram rejects and what has bitten us: text/caption length, inline
button ``callback_data`` size and Telegram's HTML subset.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, NoReturn, Self

import aiohttp
from aiohttp import web

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200

#: Methods whose successful calls put a message in front of the user (see ``FakeBotAPI.sent``).
SENT_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
#: Methods that count against the optional flood limits (real Telegram limits messages).
RATE_LIMITED_METHODS = SENT_METHODS | {"sendInvoice"}

# Form values are strings; these are decoded so tests can assert on real types.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "prices",
        "link_preview_options",
        "reply_parameters",
        "suggested_tip_amounts",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "user_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "max_tip_amount",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "ok",
        "show_alert",
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "drop_pending_updates",
        "need_name",
        "need_phone_number",
        "need_email",
        "need_shipping_address",
        "is_flexible",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
)
# Telegram only delivers these when explicitly listed in allowed_updates.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_INT_RE = re.compile(r"-?\d+")

_DEFAULT_ERROR_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


class TelegramHTMLError(ValueError):
    """Raised for text Telegram would answer with "can't parse entities"."""


@dataclass
class ParsedText:
    """Text as the user sees it plus the entities Telegram would report back."""

    text: str
    entities: list[dict[str, Any]]


_SIMPLE_TAGS = {
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
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTMLParser(HTMLParser):
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
        self._length += _utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        entity: dict[str, Any] | None
        if tag in _SIMPLE_TAGS:
            entity = {"type": _SIMPLE_TAGS[tag]}
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
        if name not in _NAMED_ENTITIES or not self._source.startswith(f"&{name};", self._pos()):
            self._fail(f'Unsupported HTML entity "&{name}" at byte offset {self._byte_offset()}')
        self._emit(_NAMED_ENTITIES[name])

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
    parser = _TelegramHTMLParser(source)
    parser.feed(source)
    return parser.finish()


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """A multipart file part the bot uploaded."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class StoredFile:
    """A file known to the fake by ``file_id`` (uploaded by the bot or added by a test)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str

    def as_file(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class Call:
    """One Bot API request, recorded so tests can assert on what users would have seen."""

    method: str
    params: dict[str, Any]
    chat_id: int | str | None
    time: float  # time.monotonic() when the request arrived
    token: str = ""
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 0  # 0 while the request is still in flight (e.g. a long poll)
    response: dict[str, Any] = field(default_factory=dict)
    via_webhook: bool = False  # executed from a webhook reply body

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def done(self) -> bool:
        return self.status != 0

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def error(self) -> str | None:
        description = self.response.get("description")
        return description if isinstance(description, str) else None

    @property
    def text(self) -> str | None:
        """Raw ``text`` or ``caption`` as the bot sent it (HTML not stripped)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """All inline or reply keyboard buttons, flattened row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [
            button if isinstance(button, dict) else {"text": button}
            for row in rows
            for button in row
        ]

    @property
    def button_texts(self) -> list[str]:
        return [str(button.get("text", "")) for button in self.buttons]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def describe(self, origin: float = 0.0) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("chat_id",)}
        params = json.dumps(shown, ensure_ascii=False, default=str)
        if len(params) > 300:
            params = params[:297] + "..."
        status = self.status or "pending"
        error = f" {self.error!r}" if self.error and not self.ok else ""
        return (
            f"+{self.time - origin:.3f}s {self.method} chat={self.chat_id} "
            f"-> {status}{error} {params}"
        )


class _ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(reason: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {reason}")


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


@dataclass
class _Failure:
    status: int
    retry_after: int
    description: str | None
    remaining: int

    def error(self) -> _ApiError:
        if self.status == 429:
            return _too_many_requests(self.retry_after)
        description = self.description or _DEFAULT_ERROR_DESCRIPTIONS.get(
            self.status, f"Error {self.status}"
        )
        return _ApiError(self.status, description)


class _TokenBucket:
    """Classic token bucket: ``rate`` tokens per second, at most ``capacity`` stored."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def available(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1

    def take(self) -> None:
        self.tokens -= 1


_Handler = Callable[[Call], Awaitable[Any]]


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


class FakeBotAPI:
    """Fake Telegram Bot API on ``127.0.0.1:<random port>``; use as ``async with FakeBotAPI()``.

    Point aiogram at it with
    ``AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``.

    ``global_rate``/``per_chat_rate`` (messages per second, token buckets of ``global_burst``
    / ``per_chat_burst``) emulate flood limits; default is unlimited. ``token`` makes other
    tokens get 401. ``bot_id`` is replaced by the numeric prefix of the token the bot uses, as
    on real Telegram, so ``bot.id`` matches ``from.id`` of the messages it sends.
    """

    def __init__(
        self,
        *,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: int = 3,
        global_burst: int | None = None,
        token: str | None = None,
        bot_id: int = 123456789,
        bot_username: str = "leadbot_test_bot",
        bot_first_name: str = "LeadBot",
    ) -> None:
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self.global_burst = global_burst
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name

        self.calls: list[Call] = []
        self.rejected_429 = 0
        self.blocked: set[int | str] = set()
        #: Latest state of every message the bot sent and has not deleted, by (chat_id, id).
        self.messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self.files: dict[str, StoredFile] = {}
        #: Known user profiles (filled by the update builders), used for realistic chats.
        self.users: dict[int, dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.pending_updates: list[dict[str, Any]] = []

        self._started_at = time.monotonic()
        self._last_update_id = 0
        self._message_ids: dict[int | str, int] = {}
        self._deleted: set[tuple[int | str, int]] = set()
        self._open_queries: set[str] = set()
        self._failures: dict[str, deque[_Failure]] = {}
        self._allowed_updates: frozenset[str] | None = None
        self._global_bucket: _TokenBucket | None = None
        self._chat_buckets: dict[int | str, _TokenBucket] = {}
        self._updates_event = asyncio.Event()
        self._closing = False
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._port = 0

        self._handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "getFile": self._get_file,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
        }
        self._canonical = {name.lower(): name for name in self._handlers}

        self.app = web.Application(client_max_size=50 * 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeBotAPI is not started; use `async with FakeBotAPI()`")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing = True
        self._updates_event.set()  # release long polls so shutdown is immediate
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- inspection helpers

    def calls_of(self, method: str) -> list[Call]:
        """Finished calls of ``method`` (case-insensitive), in arrival order."""
        name = self._canonical.get(method.lower(), method)
        return [c for c in self.calls if c.method == name and c.done]

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful sendMessage/sendPhoto/sendDocument calls, optionally for one chat."""
        return [
            c
            for c in self.calls
            if c.method in SENT_METHODS and c.ok and (chat_id is None or c.chat_id == chat_id)
        ]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """Raw text/caption of every successful send, for compact assertions."""
        return [c.text or "" for c in self.sent(chat_id)]

    def clear_calls(self) -> None:
        self.calls.clear()

    def describe_calls(self, include_polls: bool = False) -> str:
        """Human-readable call log (long polls summarised) for assertion messages."""
        shown = [c for c in self.calls if include_polls or c.method != "getUpdates"]
        polls = len(self.calls) - len(shown)
        lines = [f"  {i}. {c.describe(self._started_at)}" for i, c in enumerate(shown)]
        if polls:
            lines.append(f"  (+{polls} getUpdates calls)")
        return "\n".join(lines) if lines else "  (no calls recorded)"

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline argument reads best in tests
    ) -> Call:
        """Wait until a finished call satisfies ``predicate``; return it.

        Raises ``AssertionError`` listing every recorded call on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            for call in list(self.calls):
                if call.done and predicate(call):
                    return call
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"FakeBotAPI.wait_for: no call matched within {timeout}s. "
                    f"Recorded calls:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.02)

    async def wait_for_sent(
        self,
        chat_id: int | str | None = None,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Call:
        """Wait for a successful send to ``chat_id`` whose text/caption contains ``contains``."""

        def matches(call: Call) -> bool:
            return (
                call.method in SENT_METHODS
                and call.ok
                and (chat_id is None or call.chat_id == chat_id)
                and (contains is None or contains in (call.text or ""))
            )

        return await self.wait_for(matches, timeout)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 3,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error (429 by default)."""
        name = self._canonical.get(method.lower(), method)
        self._failures.setdefault(name, deque()).append(
            _Failure(
                status=status, retry_after=retry_after, description=description, remaining=count
            )
        )

    def block_user(self, chat_id: int | str) -> None:
        """Make every call targeting ``chat_id`` fail with 403 "bot was blocked by the user"."""
        self.blocked.add(chat_id)

    def unblock_user(self, chat_id: int | str) -> None:
        self.blocked.discard(chat_id)

    # ---------------------------------------------------------------- files

    def add_file(
        self,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        kind: str = "document",
        file_id: str | None = None,
    ) -> str:
        """Register a file (e.g. one a user "sent") and return its ``file_id``."""
        prefix = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA"}.get(kind, "CAACAgIA")
        file_id = file_id or prefix + secrets.token_urlsafe(24)
        number = len(self.files)
        extension = (file_name or "").rpartition(".")[2] if file_name and "." in file_name else ""
        path = f"{kind}s/file_{number}" + (f".{extension}" if extension else "")
        self.files[file_id] = StoredFile(
            file_id=file_id,
            file_unique_id="AQAD" + secrets.token_urlsafe(8),
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=path,
        )
        return file_id

    # ---------------------------------------------------------------- update injection

    def push_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; assigns ``update_id`` if missing. Returns it."""
        queued = self._prepare_update(update)
        self.pending_updates.append(queued)
        self._updates_event.set()
        return queued

    def push_updates(self, updates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.push_update(update) for update in updates]

    async def post_webhook(
        self,
        url: str | None,
        update: Mapping[str, Any],
        secret: str | None = None,
    ) -> int:
        """POST ``update`` to a webhook like Telegram does; return the HTTP status.

        ``url=None`` uses the URL and secret registered with setWebhook. A method in the
        response body (aiogram's "reply into webhook") is executed and recorded like Telegram
        would, with ``Call.via_webhook`` set.
        """
        if url is None:
            url = self.webhook.get("url") or ""
            if secret is None:
                secret = self.webhook.get("secret_token")
        if not url:
            raise ValueError("post_webhook: no url given and no webhook registered")
        payload = self._prepare_update(update)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        if self._client is None:
            self._client = aiohttp.ClientSession()
        async with self._client.post(url, json=payload, headers=headers) as response:
            status = response.status
            if status == 200:
                await self._run_webhook_reply(response)
        return status

    def message_update(
        self,
        user_id: int,
        text: str | None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str = "en",
        contact: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build (not queue) a private-chat message update from ``user_id``."""
        user = self._remember_user(user_id, first_name, username, last_name, language_code)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
                ]
        if contact is not None:
            message["contact"] = contact
        return {"message": message}

    def contact_update(
        self,
        user_id: int,
        phone: str,
        *,
        first_name: str | None = None,
        own: bool = True,
    ) -> dict[str, Any]:
        """Build a message sharing a contact; ``own=False`` shares someone else's card."""
        user = self._remember_user(user_id, first_name)
        contact: dict[str, Any] = {"phone_number": phone, "first_name": user["first_name"]}
        if own:
            contact["user_id"] = user_id
        else:
            contact["first_name"] = "Someone Else"
        return self.message_update(user_id, None, contact=contact)

    def callback_update(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Build a button press; by default on the latest message the bot sent to ``user_id``."""
        user = self._remember_user(user_id, first_name, username)
        if message_id is None:
            own = [mid for (chat, mid) in self.messages if chat == user_id]
            message_id = max(own) if own else None
        message = self.messages.get((user_id, message_id)) if message_id is not None else None
        if message is None:
            message = {
                "message_id": message_id or self._next_message_id(user_id),
                "from": self._bot_user(),
                "chat": self._chat(user_id),
                "date": int(time.time()),
                "text": "...",
            }
        query = {
            "id": str(secrets.randbits(62)),
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash(("chat_instance", user_id)))),
            "data": data,
        }
        return {"callback_query": query}

    def my_chat_member_update(self, user_id: int, status: str = "kicked") -> dict[str, Any]:
        """Build the update Telegram sends when a user blocks (``kicked``) or unblocks the bot."""
        user = self._remember_user(user_id)
        old_status = "member" if status == "kicked" else "kicked"

        def member(state: str) -> dict[str, Any]:
            body: dict[str, Any] = {"status": state, "user": self._bot_user()}
            if state == "kicked":
                body["until_date"] = 0
            return body

        return {
            "my_chat_member": {
                "chat": self._chat(user_id),
                "from": user,
                "date": int(time.time()),
                "old_chat_member": member(old_status),
                "new_chat_member": member(status),
            }
        }

    def pre_checkout_update(
        self,
        user_id: int,
        total_amount: int,
        *,
        currency: str = "XTR",
        payload: str = "payload",
    ) -> dict[str, Any]:
        """Build a pre_checkout_query as Telegram sends before charging the user."""
        return {
            "pre_checkout_query": {
                "id": str(secrets.randbits(62)),
                "from": self._remember_user(user_id),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
            }
        }

    # ---------------------------------------------------------------- internals: updates

    def _prepare_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        prepared = copy.deepcopy(dict(update))
        if "update_id" not in prepared:
            prepared["update_id"] = self._last_update_id + 1
        self._last_update_id = max(self._last_update_id, int(prepared["update_id"]))
        for kind in ("callback_query", "pre_checkout_query", "shipping_query"):
            query = prepared.get(kind)
            if isinstance(query, dict) and "id" in query:
                self._open_queries.add(str(query["id"]))
        return prepared

    def _remember_user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        user = self.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        for key, value in (
            ("first_name", first_name),
            ("username", username),
            ("last_name", last_name),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value
        return dict(user)

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        if isinstance(chat_id, int) and chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        user = self.users.get(chat_id) if isinstance(chat_id, int) else None
        chat: dict[str, Any] = {"id": chat_id, "type": "private"}
        chat["first_name"] = user["first_name"] if user else f"User{chat_id}"
        for key in ("last_name", "username"):
            if user and key in user:
                chat[key] = user[key]
        return chat

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _next_message_id(self, chat_id: int | str) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        if self._allowed_updates is not None:
            allowed = self._allowed_updates
        else:
            allowed = frozenset(_UPDATE_TYPES) - _OPT_IN_UPDATE_TYPES
        known = frozenset(_UPDATE_TYPES) | _OPT_IN_UPDATE_TYPES
        # Telegram never queues updates of types the bot did not ask for.
        self.pending_updates = [
            u
            for u in self.pending_updates
            if not any(kind in u and kind not in allowed for kind in known)
        ]
        return self.pending_updates[:limit]

    # ---------------------------------------------------------------- internals: HTTP

    async def _handle_method(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(
                            field=key,
                            filename=value.filename,
                            content_type=value.content_type,
                            data=value.file.read(),
                        )
                    else:
                        params[key] = value if isinstance(value, str) else value.decode()
        call = await self._execute(
            request.match_info["token"], request.match_info["method"], params, files
        )
        return web.json_response(call.response, status=call.status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.data,
                    content_type=stored.mime_type or "application/octet-stream",
                )
        raise web.HTTPNotFound(text="Not Found")

    async def _run_webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        if response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                data = await part.read()
                if part.filename:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files[part.name] = UploadedFile(part.name, part.filename, content_type, data)
                else:
                    params[part.name] = data.decode()
        elif response.content_type == "application/json":
            body = await response.json()
            if isinstance(body, dict):
                params.update(body)
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self._execute(self.token or "", method, params, files, via_webhook=True)

    async def _execute(
        self,
        token: str,
        method: str,
        raw: dict[str, Any],
        files: dict[str, UploadedFile],
        *,
        via_webhook: bool = False,
    ) -> Call:
        name = self._canonical.get(method.lower(), method)
        call = Call(
            method=name,
            params=dict(raw),
            chat_id=None,
            time=time.monotonic(),
            token=token,
            files=files,
            via_webhook=via_webhook,
        )
        self.calls.append(call)
        try:
            call.params = self._decode_params(raw)
            chat_id = call.params.get("chat_id")
            call.chat_id = chat_id if isinstance(chat_id, int | str) else None
            result = await self._dispatch(call)
        except _ApiError as error:
            call.status, call.response = error.code, error.payload()
        else:
            call.status, call.response = 200, {"ok": True, "result": result}
        return call

    async def _dispatch(self, call: Call) -> Any:
        if self.token is not None and call.token != self.token and not call.via_webhook:
            raise _ApiError(401, "Unauthorized")
        prefix = call.token.split(":", 1)[0]
        if prefix.isdigit():
            self.bot_id = int(prefix)
        handler = self._handlers.get(call.method)
        if handler is None:
            raise _ApiError(404, "Not Found: method not found")
        self._check_injected_failure(call.method)
        if call.chat_id is not None and call.chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if call.method in RATE_LIMITED_METHODS:
            self._check_rate_limits(call.chat_id)
        return await handler(call)

    def _decode_params(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(value, str):
                params[key] = value
            elif key in _JSON_FIELDS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise _bad_request(f"can't parse {what} JSON object") from None
            elif key in _INT_FIELDS and _INT_RE.fullmatch(value):
                params[key] = int(value)
            elif key in _BOOL_FIELDS and value in ("true", "false", "True", "False", "1", "0"):
                params[key] = value in ("true", "True", "1")
            else:
                params[key] = value
        return params

    def _check_injected_failure(self, method: str) -> None:
        queue = self._failures.get(method)
        if not queue:
            return
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        raise failure.error()

    def _check_rate_limits(self, chat_id: int | str | None) -> None:
        buckets: list[_TokenBucket] = []
        if self.global_rate is not None:
            if self._global_bucket is None:
                capacity = self.global_burst or max(1, round(self.global_rate))
                self._global_bucket = _TokenBucket(self.global_rate, capacity)
            buckets.append(self._global_bucket)
        if self.per_chat_rate is not None and chat_id is not None:
            bucket = self._chat_buckets.get(chat_id)
            if bucket is None:
                bucket = _TokenBucket(self.per_chat_rate, self.per_chat_burst)
                self._chat_buckets[chat_id] = bucket
            buckets.append(bucket)
        if not all(bucket.available() for bucket in buckets):
            self.rejected_429 += 1
            raise _too_many_requests(1)
        for bucket in buckets:
            bucket.take()

    # ---------------------------------------------------------------- internals: validation

    def _require_chat(self, call: Call) -> int:
        chat_id = call.params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        return chat_id

    def _render(self, call: Call, key: str, limit: int) -> ParsedText:
        """Parse text/caption per ``parse_mode`` and apply Telegram's length rules."""
        value = call.params.get(key)
        source = "" if value is None else str(value)
        parse_mode = str(call.params.get("parse_mode") or "").lower()
        entities = call.params.get("caption_entities" if key == "caption" else "entities")
        if isinstance(entities, list) and entities:  # explicit entities override parse_mode
            parsed = ParsedText(source, entities)
        elif parse_mode == "html":
            try:
                parsed = parse_telegram_html(source)
            except TelegramHTMLError as error:
                raise _bad_request(f"can't parse entities: {error}") from None
        else:
            parsed = ParsedText(source, [])
        if key == "text" and not parsed.text.strip():
            raise _bad_request("message text is empty")
        if len(parsed.text) > limit:
            raise _bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return parsed

    def _checked_markup(self, call: Call) -> dict[str, Any] | None:
        """Validate reply_markup; return it if it is an inline keyboard (echoed by Telegram)."""
        markup = call.params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                if not any(action in button for action in _INLINE_BUTTON_ACTIONS):
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode())
                    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = str(button["url"])
                    if not url.startswith(("http://", "https://", "tg://")):
                        raise _bad_request(
                            f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                        )
        return markup if rows else None

    def _resolve_file(self, call: Call, key: str, kind: str) -> StoredFile:
        value = call.params.get(key)
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad_request(f"wrong HTTP URL specified: attached {key} not found")
        elif key in call.files:
            upload = call.files[key]
        elif isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            if value.startswith(("http://", "https://")):
                name = value.rstrip("/").rpartition("/")[2] or None
                return self.files[self.add_file(b"", file_name=name, kind=kind)]
            raise _bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise _bad_request(f"there is no {key} in the request")
        if not upload.data:
            raise _bad_request("file must be non-empty")
        file_id = self.add_file(
            upload.data, file_name=upload.filename, mime_type=upload.content_type, kind=kind
        )
        return self.files[file_id]

    def _store_message(self, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v not in (None, [])},
        }
        self.messages[(chat_id, message["message_id"])] = message
        return copy.deepcopy(message)

    def _known_message(self, call: Call) -> tuple[tuple[int | str, int], dict[str, Any] | None]:
        chat_id = self._require_chat(call)
        message_id = call.params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        key = (chat_id, message_id)
        if key in self._deleted:
            raise _bad_request("message to edit not found")
        return key, self.messages.get(key)

    # ---------------------------------------------------------------- method handlers

    async def _get_me(self, call: Call) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> Any:
        if self.webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = call.params.get("offset")
        limit = call.params.get("limit")
        limit = limit if isinstance(limit, int) and 1 <= limit <= 100 else 100
        timeout = call.params.get("timeout")
        timeout = timeout if isinstance(timeout, int) and timeout > 0 else 0
        allowed = call.params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        if isinstance(offset, int) and offset > 0:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        # Like Telegram, a newer getUpdates terminates a pending one (two pollers = a bug).
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_event.set()
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(409, _DEFAULT_ERROR_DESCRIPTIONS[409])
            batch = self._take_updates(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                return batch
            self._updates_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._updates_event.wait(), remaining)

    async def _send_message(self, call: Call) -> Any:
        chat_id = self._require_chat(call)
        parsed = self._render(call, "text", MAX_TEXT_LENGTH)
        markup = self._checked_markup(call)
        return self._store_message(
            chat_id, {"text": parsed.text, "entities": parsed.entities, "reply_markup": markup}
        )

    async def _send_photo(self, call: Call) -> Any:
        chat_id = self._require_chat(call)
        parsed = self._render(call, "caption", MAX_CAPTION_LENGTH)
        markup = self._checked_markup(call)
        stored = self._resolve_file(call, "photo", "photo")
        photo = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "width": 800,
            "height": 600,
        }
        return self._store_message(
            chat_id,
            {
                "photo": [photo],
                "caption": parsed.text or None,
                "caption_entities": parsed.entities,
                "reply_markup": markup,
            },
        )

    async def _send_document(self, call: Call) -> Any:
        chat_id = self._require_chat(call)
        parsed = self._render(call, "caption", MAX_CAPTION_LENGTH)
        markup = self._checked_markup(call)
        stored = self._resolve_file(call, "document", "document")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.file_name,
            "mime_type": stored.mime_type,
            "file_size": len(stored.data),
        }
        return self._store_message(
            chat_id,
            {
                "document": {k: v for k, v in document.items() if v is not None},
                "caption": parsed.text or None,
                "caption_entities": parsed.entities,
                "reply_markup": markup,
            },
        )

    async def _send_chat_action(self, call: Call) -> Any:
        self._require_chat(call)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, call: Call) -> Any:
        query_id = str(call.params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise _bad_request(_QUERY_TOO_OLD)
        if len(str(call.params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    async def _edit_message_text(self, call: Call) -> Any:
        if call.params.get("inline_message_id"):
            self._render(call, "text", MAX_TEXT_LENGTH)
            self._checked_markup(call)
            return True
        key, message = self._known_message(call)
        parsed = self._render(call, "text", MAX_TEXT_LENGTH)
        markup = self._checked_markup(call)
        return self._apply_edit(
            call, key, message, {"text": parsed.text, "entities": parsed.entities}, markup, "text"
        )

    async def _edit_message_caption(self, call: Call) -> Any:
        if call.params.get("inline_message_id"):
            self._render(call, "caption", MAX_CAPTION_LENGTH)
            self._checked_markup(call)
            return True
        key, message = self._known_message(call)
        parsed = self._render(call, "caption", MAX_CAPTION_LENGTH)
        markup = self._checked_markup(call)
        content = {"caption": parsed.text or None, "caption_entities": parsed.entities}
        return self._apply_edit(call, key, message, content, markup, "caption")

    async def _edit_message_reply_markup(self, call: Call) -> Any:
        markup = self._checked_markup(call)
        if call.params.get("inline_message_id"):
            return True
        key, message = self._known_message(call)
        return self._apply_edit(call, key, message, {}, markup, None)

    def _apply_edit(
        self,
        call: Call,
        key: tuple[int | str, int],
        message: dict[str, Any] | None,
        content: dict[str, Any],
        markup: dict[str, Any] | None,
        kind: str | None,
    ) -> dict[str, Any]:
        if message is None:  # not sent through this fake: be lenient and synthesize it
            message = {
                "message_id": key[1],
                "from": self._bot_user(),
                "chat": self._chat(key[0]),
                "date": int(time.time()),
            }
        else:
            if kind == "text" and "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            if kind == "caption" and "text" in message:
                raise _bad_request("there is no caption in the message to edit")
            same_content = all(message.get(k) == (v or None) for k, v in content.items())
            if same_content and message.get("reply_markup") == markup:
                raise _bad_request(_NOT_MODIFIED)
        updated = {k: v for k, v in message.items() if k not in content and k != "reply_markup"}
        updated.update({k: v for k, v in content.items() if v not in (None, [])})
        if markup is not None:
            updated["reply_markup"] = markup
        updated["edit_date"] = int(time.time())
        self.messages[key] = updated
        return copy.deepcopy(updated)

    async def _delete_message(self, call: Call) -> Any:
        chat_id = self._require_chat(call)
        message_id = call.params.get("message_id")
        key = (chat_id, message_id if isinstance(message_id, int) else -1)
        if key in self._deleted:
            raise _bad_request("message to delete not found")
        self.messages.pop(key, None)
        self._deleted.add(key)
        return True

    async def _get_file(self, call: Call) -> Any:
        stored = self.files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        return stored.as_file()

    async def _set_webhook(self, call: Call) -> Any:
        url = str(call.params.get("url") or "")
        secret = call.params.get("secret_token")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if call.params.get("drop_pending_updates"):
            self.pending_updates.clear()
        self.webhook = (
            {
                "url": url,
                "secret_token": secret,
                "allowed_updates": call.params.get("allowed_updates"),
                "max_connections": call.params.get("max_connections", 40),
            }
            if url
            else {}
        )
        return True

    async def _delete_webhook(self, call: Call) -> Any:
        if call.params.get("drop_pending_updates"):
            self.pending_updates.clear()
        self.webhook = {}
        return True

    async def _get_webhook_info(self, call: Call) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }
        if info["url"]:
            info["max_connections"] = self.webhook.get("max_connections") or 40
            info["ip_address"] = "149.154.167.220"
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _set_my_commands(self, call: Call) -> Any:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(call)] = commands
        return True

    async def _get_my_commands(self, call: Call) -> Any:
        return self.commands.get(self._commands_key(call), [])

    @staticmethod
    def _commands_key(call: Call) -> str:
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps([scope, call.params.get("language_code") or ""], sort_keys=True)

    async def _send_invoice(self, call: Call) -> Any:
        chat_id = self._require_chat(call)
        title = str(call.params.get("title") or "")
        description = str(call.params.get("description") or "")
        payload = str(call.params.get("payload") or "")
        currency = str(call.params.get("currency") or "")
        prices = call.params.get("prices")
        if not 1 <= len(title) <= 32:
            raise _bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
        if not 1 <= len(description) <= 255:
            raise _bad_request("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise _bad_request("INVOICE_PAYLOAD_INVALID")
        if not currency:
            raise _bad_request("CURRENCY_INVALID")
        if not isinstance(prices, list) or not prices:
            raise _bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        try:
            total = sum(int(price["amount"]) for price in prices)
        except (KeyError, TypeError, ValueError):
            raise _bad_request("can't parse prices JSON object") from None
        markup = self._checked_markup(call)
        invoice = {
            "title": title,
            "description": description,
            "start_parameter": str(call.params.get("start_parameter") or ""),
            "currency": currency,
            "total_amount": total,
        }
        return self._store_message(chat_id, {"invoice": invoice, "reply_markup": markup})

    async def _answer_pre_checkout_query(self, call: Call) -> Any:
        query_id = str(call.params.get("pre_checkout_query_id") or "")
        if query_id not in self._open_queries:
            raise _bad_request(_QUERY_TOO_OLD)
        if call.params.get("ok") is not True and not call.params.get("error_message"):
            raise _bad_request("error_message is required when ok is false")
        self._open_queries.discard(query_id)
        return True
