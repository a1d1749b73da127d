"""What the fake refuses, as Telegram would: chat ids, text lengths, HTML, buttons, files.
(Injected failures and flood limits are checked as a call arrives, in ``server``.)"""

from __future__ import annotations

import copy
import time
from typing import Any

from fakes.bot_api.base import FakeBotState
from fakes.bot_api.html import ParsedText, TelegramHTMLError, parse_telegram_html
from fakes.bot_api.records import (
    INLINE_BUTTON_ACTIONS,
    MAX_CALLBACK_DATA_BYTES,
    Call,
    StoredFile,
    UploadedFile,
    bad_request,
)


def business_chat_key(connection_id: str, chat_id: int) -> str:
    """Where the fake keeps a business chat's messages: apart from the bot's own chat with
    the same person (Telegram numbers them apart, too)."""
    return f"business:{connection_id}:{chat_id}"


class CheckedCalls(FakeBotState):
    # ---------------------------------------------------------------- internals: validation

    def _require_chat(self, call: Call) -> int:
        chat_id = call.params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
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
                raise bad_request(f"can't parse entities: {error}") from None
        else:
            parsed = ParsedText(source, [])
        if key == "text" and not parsed.text.strip():
            raise bad_request("message text is empty")
        if len(parsed.text) > limit:
            raise bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return parsed

    def _checked_markup(self, call: Call) -> dict[str, Any] | None:
        """Validate reply_markup; return it if it is an inline keyboard (echoed by Telegram)."""
        markup = call.params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if not any(action in button for action in INLINE_BUTTON_ACTIONS):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode())
                    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = str(button["url"])
                    if not url.startswith(("http://", "https://", "tg://")):
                        raise bad_request(
                            f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                        )
        return markup if rows else None

    def _resolve_file(self, call: Call, key: str, kind: str) -> StoredFile:
        value = call.params.get(key)
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"wrong HTTP URL specified: attached {key} not found")
        elif key in call.files:
            upload = call.files[key]
        elif isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            if value.startswith(("http://", "https://")):
                name = value.rstrip("/").rpartition("/")[2] or None
                return self.files[self.add_file(b"", file_name=name, kind=kind)]
            raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request(f"there is no {key} in the request")
        if not upload.data:
            raise bad_request("file must be non-empty")
        file_id = self.add_file(
            upload.data, file_name=upload.filename, mime_type=upload.content_type, kind=kind
        )
        return self.files[file_id]

    def _store_message(
        self, chat_id: int, content: dict[str, Any], call: Call | None = None
    ) -> dict[str, Any]:
        """Keep a message the bot sent; one sent on a business account's behalf is that
        account's (``from``), in its chat with the customer, which is not the bot's chat."""
        connection_id = str(call.params.get("business_connection_id") or "") if call else ""
        where: int | str = business_chat_key(connection_id, chat_id) if connection_id else chat_id
        message = {
            "message_id": self._next_message_id(where),
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v not in (None, [])},
        }
        if connection_id:
            owner = self.business_connections[connection_id]["user"]
            message.update(
                {
                    "from": dict(owner),
                    "sender_business_bot": self._bot_user(),
                    "business_connection_id": connection_id,
                }
            )
            if self.echo_business:
                self._echo(message)
        self._keep_message(where, message)
        return copy.deepcopy(message)

    def _echo(self, message: dict[str, Any]) -> None:
        """Queue ``business_message`` for the account's outgoing message (see
        ``echo_business``)."""
        self.pending_updates.append(self._prepare_update({"business_message": dict(message)}))
        self._updates_event.set()

    def _check_business(self, call: Call) -> None:
        """A call on a business account's behalf: Telegram refuses an unknown connection, a
        disabled one, and one without the reply right. (The first text is what the Bot API
        answers; the other two are the MTProto errors it passes on, not observed here.)"""
        connection_id = str(call.params.get("business_connection_id") or "")
        if not connection_id:
            return
        described = self.business_connections.get(connection_id)
        if described is None:
            raise bad_request("business connection not found")
        if not described.get("is_enabled"):
            raise bad_request("BUSINESS_CONNECTION_INVALID")
        if not (described.get("rights") or {}).get("can_reply"):
            raise bad_request("BOT_ACCESS_FORBIDDEN")

    def _known_message(self, call: Call) -> tuple[tuple[int | str, int], dict[str, Any] | None]:
        chat_id = self._require_chat(call)
        message_id = call.params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        key = (chat_id, message_id)
        if key in self._deleted:
            raise bad_request("message to edit not found")
        return key, self.messages.get(key)
