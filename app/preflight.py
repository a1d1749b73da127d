"""Checks made before the bot starts, cheap enough to run before aiogram is even imported."""

from __future__ import annotations

import re

from bot.settings import Settings

SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
BOT_TOKEN = re.compile(r"\d+:\S+")


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def check_settings(settings: Settings) -> str:
    """The bot token, once the settings the bot needs are known to be usable."""
    token = settings.bot_token.get_secret_value().strip() if settings.bot_token else ""
    if not token:
        raise StartupError("Setting BOT_TOKEN: required to run the bot", 2)
    if not BOT_TOKEN.fullmatch(token):
        raise StartupError("Setting BOT_TOKEN: not a bot token (like 123456:ABC-DEF...)", 2)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if secret is not None and not SECRET_TOKEN.fullmatch(secret):
        raise StartupError(
            "Setting WEBHOOK_SECRET: use 1-256 characters of A-Z, a-z, 0-9, _ and -", 2
        )
    return token
