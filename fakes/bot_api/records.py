"""The fake Bot API's records and rules: what a call looked like, stored files, errors,
flood buckets, and the tables of what Telegram accepts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200

#: Methods whose successful calls put a message in front of the user (see ``FakeBotAPI.sent``).
SENT_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
#: Methods that count against the optional flood limits (real Telegram limits messages).
RATE_LIMITED_METHODS = SENT_METHODS | {"sendInvoice"}

# Form values are strings; these are decoded so tests can assert on real types.
JSON_FIELDS = frozenset(
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
INT_FIELDS = frozenset(
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
        "subscription_period",
    }
)
BOOL_FIELDS = frozenset(
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
        "is_canceled",
    }
)
CHAT_ACTIONS = frozenset(
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
INLINE_BUTTON_ACTIONS = (
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
UPDATE_TYPES = (
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
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
)
# Telegram only delivers these when explicitly listed in allowed_updates.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
INT_RE = re.compile(r"-?\d+")

DEFAULT_ERROR_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# Telegram HTML
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
    def paid(self) -> bool:
        """Sent with ``allow_paid_broadcast`` (0.1 Star, past the ~30/s limit)."""
        return self.params.get("allow_paid_broadcast") is True

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


#: The one subscription period Telegram accepts (createInvoiceLink), and its price cap.
SUBSCRIPTION_PERIOD = 2592000
MAX_SUBSCRIPTION_STARS = 10000


@dataclass
class StarSubscription:
    """A Stars subscription a (scripted) user bought through an invoice link."""

    user_id: int
    link: str
    payload: str
    amount: int
    period: int
    expires: int  # Unix time the paid period ends
    canceled_by_bot: bool = False
    renewals: int = 0


class ApiError(Exception):
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


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


@dataclass
class Failure:
    status: int
    retry_after: int
    description: str | None
    remaining: int

    def error(self) -> ApiError:
        if self.status == 429:
            return too_many_requests(self.retry_after)
        description = self.description or DEFAULT_ERROR_DESCRIPTIONS.get(
            self.status, f"Error {self.status}"
        )
        return ApiError(self.status, description)


class TokenBucket:
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


Handler = Callable[[Call], Awaitable[Any]]


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------
