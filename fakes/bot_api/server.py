"""In-process fake of the Telegram Bot API, spoken to over real HTTP.

Tests point a real aiogram ``Bot`` at this server (``TelegramAPIServer.from_base``) so that
aiogram's own request encoding (urlencoded or multipart form, JSON-encoded complex fields) and its
error mapping (400/403/409/429 -> exceptions) are exercised, instead of mocking ``Bot`` methods.
The server checks what real Telegram rejects and what has bitten us: text/caption length, inline
button ``callback_data`` size and Telegram's HTML subset.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from fakes.bot_api.methods import BotMethods
from fakes.bot_api.records import (
    BOOL_FIELDS,
    INT_FIELDS,
    INT_RE,
    JSON_FIELDS,
    RATE_LIMITED_METHODS,
    SENT_METHODS,
    ApiError,
    Call,
    Handler,
    UploadedFile,
    bad_request,
)
from fakes.bot_api.scripting import Scripting
from fakes.bot_api.stars import PAID_RATE

#: What nginx answers for a status when its upstream (the Bot API server) fails.
_NGINX_TITLES = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
                 504: "504 Gateway Time-out"}  # fmt: skip


def nginx_page(status: int) -> str:
    title = _NGINX_TITLES.get(status, f"{status} Error")
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


class FakeBotAPI(BotMethods, Scripting):
    """Fake Telegram Bot API on ``127.0.0.1:<random port>``; use as ``async with FakeBotAPI()``.

    Point aiogram at it with
    ``AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``.

    ``global_rate``/``per_chat_rate`` (messages per second, token buckets of ``global_burst``
    / ``per_chat_burst``) emulate flood limits; default is unlimited. Sends with
    ``allow_paid_broadcast`` skip ``global_rate`` for ``paid_rate`` (1000/s) and cost 0.1 of
    the bot's ``star_balance`` each (``stars``: the ledger, see ``fakes.bot_api.stars``).
    ``token`` makes other tokens get 401. ``bot_id`` is replaced by the numeric prefix of the
    token the bot uses, as on real Telegram, so ``bot.id`` matches ``from.id`` of the messages
    it sends.
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
        star_balance: Decimal | int | str = 0,
        paid_rate: float | None = PAID_RATE,
    ) -> None:
        super().__init__(
            global_rate=global_rate,
            per_chat_rate=per_chat_rate,
            per_chat_burst=per_chat_burst,
            global_burst=global_burst,
            token=token,
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            star_balance=star_balance,
            paid_rate=paid_rate,
        )
        self._handlers: dict[str, Handler] = {
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
            "createInvoiceLink": self._create_invoice_link,
            "editUserStarSubscription": self._edit_user_star_subscription,
            "getChatMember": self._get_chat_member,
            "approveChatJoinRequest": self._approve_chat_join_request,
            "declineChatJoinRequest": self._decline_chat_join_request,
            "getBusinessConnection": self._get_business_connection,
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
        method = self._canonical.get(request.match_info["method"].lower(), "")
        if (status := self._take_html_error(method)) is not None:
            return web.Response(text=nginx_page(status), status=status, content_type="text/html")
        call = await self._execute(
            request.match_info["token"], request.match_info["method"], params, files
        )
        if (late := self._take_late(method)) is not None:
            await asyncio.sleep(late)
        return web.json_response(call.response, status=call.status)

    def _take_html_error(self, method: str) -> int | None:
        queue = self._html_errors.get(method)
        if not queue:
            return None
        queue[0][1] -= 1
        status = queue[0][0]
        if queue[0][1] <= 0:
            queue.popleft()
        return status

    def _take_late(self, method: str) -> float | None:
        late = self._late.get(method)
        if late is None:
            return None
        if late[1] > 0:
            late[1] -= 1
            if late[1] == 0:
                del self._late[method]
        return late[0]

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
        except ApiError as error:
            call.status, call.response = error.code, error.payload()
        else:
            call.status, call.response = 200, {"ok": True, "result": result}
        return call

    async def _dispatch(self, call: Call) -> Any:
        if self.token is not None and call.token != self.token and not call.via_webhook:
            raise ApiError(401, "Unauthorized")
        prefix = call.token.split(":", 1)[0]
        if prefix.isdigit():
            self.bot_id = int(prefix)
        handler = self._handlers.get(call.method)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        self._check_injected_failure(call.method)
        if call.chat_id is not None and call.chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if call.method != "getBusinessConnection":
            self._check_business(call)
        if call.method not in RATE_LIMITED_METHODS:
            return await handler(call)
        paid = self.stars.is_paid(call)
        self._check_rate_limits(call.chat_id, paid)
        if paid:
            self.stars.check(call)
        result = await handler(call)
        if paid:
            self.stars.debit(call)
        return result

    def _decode_params(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(value, str):
                params[key] = value
            elif key in JSON_FIELDS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise bad_request(f"can't parse {what} JSON object") from None
            elif key in INT_FIELDS and INT_RE.fullmatch(value):
                params[key] = int(value)
            elif key in BOOL_FIELDS and value in ("true", "false", "True", "False", "1", "0"):
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
