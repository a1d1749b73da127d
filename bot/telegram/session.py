"""aiogram's aiohttp session, posting calls without files as one JSON body.

Why by hand: aiogram's ``AiohttpSession`` sends every call as ``multipart/form-data``
(``build_form_data``): each field a part of its own, a random boundary (``uuid4``, a system
call) per request, nested values JSON-encoded field by field. The Bot API takes
``application/json`` for every call that uploads nothing (core.telegram.org/bots/api,
"Making requests"), and one ``json.dumps`` of the whole call is cheaper. In benchmark 3
(/start: two sendMessage calls per update) the form cost ~7% of the bot's CPU.

Calls with a file to upload go through aiogram unchanged (multipart is the only way to
send bytes); so do the responses, errors and time-outs: only the request body differs.
"""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject
from aiohttp import ClientError, ClientTimeout

_JSON = {"Content-Type": "application/json"}


class JsonSession(AiohttpSession):
    """``AiohttpSession`` with JSON request bodies for calls that upload no file."""

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> str | None:
        """The call as a JSON object, values prepared as aiogram prepares them for a form
        (defaults resolved, enums and dates as Telegram wants them, None and empty text
        left out); None when it carries a file to upload."""
        files: dict[str, Any] = {}
        payload: dict[str, Any] = {}
        # The fields as they are, None left out as the form leaves it out; an object (a
        # keyboard) dumped without its unset fields first, or ``prepare_value`` would walk
        # every button's dozen empty ones.
        for key, value in method:
            if value is None:
                continue
            if isinstance(value, TelegramObject):
                value = value.model_dump(warnings=False, exclude_none=True)
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue  # what the form leaves out (its values are strings by then)
            payload[key] = prepared
        if files:
            return None
        return self.json_dumps(payload)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=_JSON,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:  # aiogram's own mapping of transport errors, kept
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast("TelegramType", response.result)
