"""The webhook's two guards: a secret every instance agrees on, and a clear 400 for junk.

Telegram sends the one ``secret_token`` registered last. Instances that each drew a random
secret (behind a round-robin balancer, say) would answer 401 to every update registered by
another; so without ``WEBHOOK_SECRET`` the secret is derived from the bot token, the same on
every instance and unknown to anyone without the token. A body that is not an update is
answered 400 with one warning line (aiogram would raise and answer 500 with a traceback).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from bot.settings import Settings

log = logging.getLogger(__name__)

#: Changing the label changes every derived secret (instances must then restart together).
SECRET_LABEL = b"leadbot/webhook-secret/v1"
MAX_LOGGED = 80


def webhook_secret(settings: Settings, token: str) -> str:
    """WEBHOOK_SECRET, or HMAC-SHA256(token, label) in hex: 64 characters of [0-9a-f],
    inside Telegram's alphabet (A-Z, a-z, 0-9, _ and -, 1-256 characters)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return hmac.new(token.encode(), SECRET_LABEL, hashlib.sha256).hexdigest()


class UpdateHandler(SimpleRequestHandler):
    """aiogram's handler, with the body checked before the dispatcher sees it."""

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
            update = Update.model_validate(body, context={"bot": bot})
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            log.warning(
                "webhook: %s from %s is not a Telegram update (%s); answered 400",
                _preview(raw),
                request.remote,
                _reason(exc),
            )
            return web.Response(status=400, text="Bad Request: not a Telegram update")
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def _preview(raw: bytes) -> str:
    text = raw[:MAX_LOGGED].decode(errors="replace")
    return repr(text + ("…" if len(raw) > MAX_LOGGED else "")) if raw else "an empty body"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return f"{where}: {first['msg']}"
    return str(exc).splitlines()[0]
