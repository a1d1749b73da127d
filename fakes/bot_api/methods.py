"""The Bot API methods the fake implements, each on the fake's state."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
import time
from typing import Any

from fakes.bot_api.checks import CheckedCalls
from fakes.bot_api.records import (
    CHAT_ACTIONS,
    COMMAND_RE,
    DEFAULT_ERROR_DESCRIPTIONS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_SUBSCRIPTION_STARS,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    SECRET_TOKEN_RE,
    SUBSCRIPTION_PERIOD,
    ApiError,
    Call,
    bad_request,
)


class BotMethods(CheckedCalls):
    # ---------------------------------------------------------------- method handlers

    async def _get_me(self, call: Call) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": self.business_mode,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
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
                raise ApiError(409, DEFAULT_ERROR_DESCRIPTIONS[409])
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
            chat_id,
            {"text": parsed.text, "entities": parsed.entities, "reply_markup": markup},
            call,
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
            call,
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
            call,
        )

    async def _get_business_connection(self, call: Call) -> Any:
        connection_id = str(call.params.get("business_connection_id") or "")
        if not connection_id:
            raise bad_request("business_connection_id is empty")
        described = self.business_connections.get(connection_id)
        if described is None:
            raise bad_request("business connection not found")
        return copy.deepcopy(described)

    async def _get_chat_member(self, call: Call) -> Any:
        """Telegram's rules: an unknown chat is "chat not found"; a channel whose admins do
        not include the bot keeps its member list to itself; a user never met is unknown."""
        chat = str(call.params.get("chat_id") or "")
        if not chat:
            raise bad_request("chat_id is empty")
        if chat not in self.channel_members:
            raise bad_request("chat not found")
        if not self.channel_admin.get(chat):
            raise bad_request("member list is inaccessible")
        user_id = call.params.get("user_id")
        if not isinstance(user_id, int) or user_id not in self.users:
            raise bad_request("PARTICIPANT_ID_INVALID")
        status = "member" if user_id in self.channel_members[chat] else "left"
        return {"status": status, "user": dict(self.users[user_id])}

    async def _approve_chat_join_request(self, call: Call) -> Any:
        chat, user_id = self._pending_join(call)
        self.channel_members.setdefault(chat, set()).add(user_id)
        return True

    async def _decline_chat_join_request(self, call: Call) -> Any:
        self._pending_join(call)
        return True

    def _pending_join(self, call: Call) -> tuple[str, int]:
        """Telegram decides a request once, and only an admin can: anything else is refused."""
        chat = str(call.params.get("chat_id") or "")
        if chat not in self.channel_members:
            raise bad_request("chat not found")
        if not self.channel_admin.get(chat):
            raise bad_request("CHAT_ADMIN_REQUIRED")
        user_id = call.params.get("user_id")
        if not isinstance(user_id, int) or (chat, user_id) not in self.join_requests:
            raise bad_request("HIDE_REQUESTER_MISSING")
        self.join_requests.discard((chat, user_id))
        return chat, user_id

    async def _send_chat_action(self, call: Call) -> Any:
        self._require_chat(call)
        if call.params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, call: Call) -> Any:
        query_id = str(call.params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise bad_request(QUERY_TOO_OLD)
        if len(str(call.params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
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
                raise bad_request("there is no text in the message to edit")
            if kind == "caption" and "text" in message:
                raise bad_request("there is no caption in the message to edit")
            same_content = all(message.get(k) == (v or None) for k, v in content.items())
            if same_content and message.get("reply_markup") == markup:
                raise bad_request(NOT_MODIFIED)
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
            raise bad_request("message to delete not found")
        self._forget_message(*key)
        self._deleted.add(key)
        return True

    async def _get_file(self, call: Call) -> Any:
        stored = self.files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.as_file()

    async def _set_webhook(self, call: Call) -> Any:
        url = str(call.params.get("url") or "")
        secret = call.params.get("secret_token")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
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
            raise bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
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
        invoice = self._checked_invoice(call)
        markup = self._checked_markup(call)
        invoice["start_parameter"] = str(call.params.get("start_parameter") or "")
        return self._store_message(chat_id, {"invoice": invoice, "reply_markup": markup})

    async def _create_invoice_link(self, call: Call) -> Any:
        """A link anyone can pay; with ``subscription_period`` a Stars subscription, which
        Telegram takes only in XTR, for 30 days exactly and up to 10000 Stars a period."""
        invoice = self._checked_invoice(call)
        period = call.params.get("subscription_period")
        if period is not None:
            if invoice["currency"] != "XTR":
                raise bad_request("subscriptions are paid in Telegram Stars: currency must be XTR")
            if period != SUBSCRIPTION_PERIOD:
                raise bad_request("SUBSCRIPTION_PERIOD_INVALID")
            if invoice["total_amount"] > MAX_SUBSCRIPTION_STARS:
                raise bad_request("SUBSCRIPTION_PRICE_INVALID")
            invoice["subscription_period"] = period
        invoice["payload"] = str(call.params.get("payload"))
        link = "https://t.me/$" + secrets.token_urlsafe(12)
        self.invoice_links[link] = invoice
        return link

    def _checked_invoice(self, call: Call) -> dict[str, Any]:
        """What sendInvoice and createInvoiceLink both refuse: lengths, currency, prices; and
        for Stars (XTR) exactly one price and no payment provider."""
        title = str(call.params.get("title") or "")
        description = str(call.params.get("description") or "")
        payload = str(call.params.get("payload") or "")
        currency = str(call.params.get("currency") or "")
        prices = call.params.get("prices")
        if not 1 <= len(title) <= 32:
            raise bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
        if not 1 <= len(description) <= 255:
            raise bad_request("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        if not currency:
            raise bad_request("CURRENCY_INVALID")
        if not isinstance(prices, list) or not prices:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        try:
            total = sum(int(price["amount"]) for price in prices)
        except (KeyError, TypeError, ValueError):
            raise bad_request("can't parse prices JSON object") from None
        if currency == "XTR" and (len(prices) != 1 or call.params.get("provider_token")):
            raise bad_request("STARS_INVOICE_INVALID")
        return {
            "title": title,
            "description": description,
            "currency": currency,
            "total_amount": total,
        }

    async def _edit_user_star_subscription(self, call: Call) -> Any:
        """Cancel (or allow again) the renewal of a subscription the bot sold, named by its
        first payment's charge id and its subscriber."""
        user_id = call.params.get("user_id")
        charge_id = str(call.params.get("telegram_payment_charge_id") or "")
        canceled = call.params.get("is_canceled")
        if not isinstance(canceled, bool):
            raise bad_request('parameter "is_canceled" is required')
        subscription = self.star_subscriptions.get(charge_id)
        if subscription is None:
            raise bad_request("CHARGE_ID_INVALID")
        if user_id != subscription.user_id:
            raise bad_request("USER_ID_INVALID")
        subscription.canceled_by_bot = canceled
        return True

    async def _answer_pre_checkout_query(self, call: Call) -> Any:
        query_id = str(call.params.get("pre_checkout_query_id") or "")
        if query_id not in self._open_queries:
            raise bad_request(QUERY_TOO_OLD)
        if call.params.get("ok") is not True and not call.params.get("error_message"):
            raise bad_request("error_message is required when ok is false")
        self._open_queries.discard(query_id)
        self.checkout_answers[query_id] = call.params.get("ok") is True
        return True
