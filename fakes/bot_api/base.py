"""The fake's state (chats, messages, updates, buckets) and the helpers every part uses."""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

from fakes.bot_api.records import (
    OPT_IN_UPDATE_TYPES,
    UPDATE_TYPES,
    Call,
    Failure,
    StarSubscription,
    StoredFile,
    TokenBucket,
    too_many_requests,
)
from fakes.bot_api.stars import PAID_RATE, StarLedger


class FakeBotState:
    """What the fake knows; see ``FakeBotAPI`` for the arguments."""

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
        star_balance: Decimal | int | str = 0,
        paid_rate: float | None = PAID_RATE,
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
        #: The bot's Stars and the sends it paid for (``allow_paid_broadcast``).
        self.stars = StarLedger(star_balance, paid_rate)
        self.rejected_429 = 0
        self.rejected_429_chat = 0  # of which a chat's own limit (the rest: the bot's)
        #: Scripted proxy faults: method -> [status, calls left] answered as an HTML page.
        self._html_errors: dict[str, deque[list[int]]] = {}
        #: method -> [seconds, calls left or -1 for all]: answered late (after doing it).
        self._late: dict[str, list[float]] = {}
        self.blocked: set[int | str] = set()
        #: Latest state of every message the bot sent and has not deleted, by (chat_id, id).
        self.messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        #: The newest of them per chat: a press "on the latest message" looks here, not
        #: through every message (benchmarks push thousands of presses into a full fake).
        self._newest: dict[int | str, int] = {}
        self.files: dict[str, StoredFile] = {}
        #: Known user profiles (filled by the update builders), used for realistic chats.
        self.users: dict[int, dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        #: Channels and groups the fake knows (by @username or id): their members' user ids,
        #: and whether the bot is an admin there (getChatMember answers admins only).
        self.channel_members: dict[str, set[int]] = {}
        self.channel_admin: dict[str, bool] = {}
        #: Pending requests to join a channel: (chat, user id); approving one makes a member.
        self.join_requests: set[tuple[str, int]] = set()
        #: BotFather's Business Mode (``getMe``'s ``can_connect_to_business``): only then may
        #: an account connect the bot (``connect_business``).
        self.business_mode = False
        #: Business connections by id, as Telegram describes them (``BusinessConnection``).
        self.business_connections: dict[str, dict[str, Any]] = {}
        #: Show every message the bot sends on an account's behalf to it again as a
        #: ``business_message`` (with ``sender_business_bot``), as the account's outgoing one.
        self.echo_business = True
        self.pending_updates: list[dict[str, Any]] = []
        #: Invoice links the bot created (createInvoiceLink), by URL: what each one bills.
        self.invoice_links: dict[str, dict[str, Any]] = {}
        #: Stars subscriptions by their first payment's charge id (``successful_payment_update``).
        self.star_subscriptions: dict[str, StarSubscription] = {}
        #: How the bot answered each pre-checkout query (query id -> ok).
        self.checkout_answers: dict[str, bool] = {}
        #: Pre-checkout queries built for an invoice link: query id -> (user id, link).
        self._checkouts: dict[str, tuple[int, str]] = {}

        self._started_at = time.monotonic()
        self._last_update_id = 0
        self._message_ids: dict[int | str, int] = {}
        self._deleted: set[tuple[int | str, int]] = set()
        self._open_queries: set[str] = set()
        self._failures: dict[str, deque[Failure]] = {}
        self._allowed_updates: frozenset[str] | None = None
        self._global_bucket: TokenBucket | None = None
        self._chat_buckets: dict[int | str, TokenBucket] = {}
        self._updates_event = asyncio.Event()
        self._closing = False
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._port = 0
        #: Method names by their lower-case spelling (filled with the method table).
        self._canonical: dict[str, str] = {}

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

    def _keep_message(self, chat_id: int | str, message: dict[str, Any]) -> None:
        """Store a message the bot sent (or a business chat shows) as the chat's latest."""
        mid = int(message["message_id"])
        self.messages[(chat_id, mid)] = message
        self._newest[chat_id] = max(mid, self._newest.get(chat_id, mid))

    def _forget_message(self, chat_id: int | str, message_id: int) -> None:
        self.messages.pop((chat_id, message_id), None)
        if self._newest.get(chat_id) == message_id:  # rare: look again, in this chat only
            left = [mid for (chat, mid) in self.messages if chat == chat_id]
            if left:
                self._newest[chat_id] = max(left)
            else:
                del self._newest[chat_id]

    def _newest_message(self, chat_id: int | str) -> int | None:
        """The id of the latest message the bot has in ``chat_id`` (not deleted)."""
        return self._newest.get(chat_id)

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        if self._allowed_updates is not None:
            allowed = self._allowed_updates
        else:
            allowed = frozenset(UPDATE_TYPES) - OPT_IN_UPDATE_TYPES
        known = frozenset(UPDATE_TYPES) | OPT_IN_UPDATE_TYPES
        # Telegram never queues updates of types the bot did not ask for.
        self.pending_updates = [
            u
            for u in self.pending_updates
            if not any(kind in u and kind not in allowed for kind in known)
        ]
        return self.pending_updates[:limit]

    # ---------------------------------------------------------------- flood limits

    def _check_rate_limits(self, chat_id: int | str | None, paid: bool = False) -> None:
        """Telegram's flood limits: the bot's overall one (a paid send's own, instead) and
        the chat's; past them a 429, and nothing is taken from any bucket."""
        buckets: list[TokenBucket] = []
        paid_bucket = self.stars.bucket() if paid else None
        if paid:
            if paid_bucket is not None:  # None: the paid limit is off
                buckets.append(paid_bucket)
        elif self.global_rate is not None:
            if self._global_bucket is None:
                capacity = self.global_burst or max(1, round(self.global_rate))
                self._global_bucket = TokenBucket(self.global_rate, capacity)
            buckets.append(self._global_bucket)
        if self.per_chat_rate is not None and chat_id is not None:
            bucket = self._chat_buckets.get(chat_id)
            if bucket is None:
                bucket = TokenBucket(self.per_chat_rate, self.per_chat_burst)
                self._chat_buckets[chat_id] = bucket
            buckets.append(bucket)
        if not all(bucket.available() for bucket in buckets):
            self.rejected_429 += 1
            overall = paid_bucket if paid else self._global_bucket
            global_ok = overall is None or overall.available()
            if global_ok:
                self.rejected_429_chat += 1  # only this chat's limit: a 429 for this chat
            raise too_many_requests(1)
        for bucket in buckets:
            bucket.take()
