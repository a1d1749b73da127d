"""Request middlewares for the bot's session: "typing…" that fails stays quiet, and aiogram's
response models kept alive between calls.

Installed on the bot by ``app.factory.make_bot``; other methods pass untouched.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import Response, SendChatAction, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)


class QuietChatActions(BaseRequestMiddleware):
    """A request middleware: a failed ``sendChatAction`` is logged and answered False.

    "typing…" is cosmetic, but aiogram's ``ChatActionSender`` lets an error end its task
    with the exception unretrieved (an ERROR in the log for a prospect who just blocked the
    bot). Installed on the bot by ``app.factory.make_bot``; other methods pass untouched.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramAPIError as exc:
            if not isinstance(method, SendChatAction):
                raise
            log.debug("chat %s: typing not shown: %s", method.chat_id, exc)
            # aiogram's chain hands on the method's result (typed as Response); the answer
            # to sendChatAction is a bool, and False says it was not shown.
            return cast("Response[TelegramType]", False)


class KeepResponseModels(BaseRequestMiddleware):
    """A request middleware: keep aiogram's ``Response[T]`` models alive between calls.

    aiogram parses every answer with ``Response[method.__returning__]``; pydantic (2.11+)
    caches parametrised generic models only in a ``WeakValueDictionary``, so once the garbage
    collector frees ``Response[Message]`` the next call rebuilds its schema (~8 ms, a third of
    a busy bot's sending CPU in benchmark 3). One strong reference per return type, taken on
    first use, makes every later lookup a cache hit.
    """

    def __init__(self) -> None:
        self.models: dict[Any, type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.models:
            self.models[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
