"""The service's ``Channel`` for one Telegram chat, and the factory all chats share.

Telegram's answers are translated here into what the service understands, per message:

- permanent: 403 means the prospect is gone (``RecipientGone``), 400 means this one message
  was refused (``SendRejected``, the funnel goes on);
- retry later: 429, Telegram's 5xx, a proxy's non-JSON error page (an nginx 502 in front of
  a self-hosted Bot API) and a connection that could not be opened are waited out a bounded
  number of times (the request did not reach Telegram, or Telegram refused it);
- in doubt (``SendInDoubt``): a time-out, a connection cut after the request went out, a
  gateway time-out page, or anything unforeseen: the message may have arrived, so it is never
  sent again blindly, exactly as after a crash mid-send (see docs/deployment.md).

A paid broadcast's copy (``TelegramChannel.paid``) goes with ``allow_paid_broadcast`` through
its own lane of the Throttle, each of its messages counted against the Stars cap first and
given back when Telegram refuses it; Telegram refusing for want of Stars stops the broadcast.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    ApproveChatJoinRequest,
    DeclineChatJoinRequest,
    GetChatMember,
    Response,
    SendChatAction,
    SendDocument,
    SendInvoice,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import ChatMemberRestricted, FSInputFile, LabeledPrice, Message
from aiogram.utils.chat_action import ChatActionSender
from aiohttp import ClientConnectorError

from bot.engine.types import Invoice, OutMessage, Priority
from bot.service import Channel, RecipientGone, ScenarioHolder, SendInDoubt, SendRejected
from bot.service.ports import PaidSend
from bot.telegram.files import FileIds
from bot.telegram.render import Piece, plan
from bot.telegram.throttle import Throttle
from storage.leads import LeadRecord

log = logging.getLogger(__name__)

CHANNEL = "telegram"
STARS = "XTR"
#: Who counts as having joined a gate's channel (a restricted member says so itself).
MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)
_STALE_FILE_HINTS = ("wrong file identifier", "file reference", "wrong remote file")
#: A proxy's page saying it gave up waiting for the Bot API: the request may have gone through.
_GATEWAY_TIMEOUT = re.compile(r"\b504\b|gateway time-?out", re.IGNORECASE)
#: Telegram's refusal of a paid send when the bot's Stars balance cannot pay for it.
_NO_STARS = re.compile(r"BALANCE_TOO_LOW|not enough stars", re.IGNORECASE)
#: Calls that put a message in front of someone: the ones ``allow_paid_broadcast`` applies to.
PAID_METHODS = (SendMessage, SendPhoto, SendDocument, SendInvoice)

T = TypeVar("T")


class Channels:
    """Builds a ``TelegramChannel`` per chat; holds what chats share (file ids, budget)."""

    def __init__(
        self,
        scenario: ScenarioHolder,
        *,
        files: FileIds | None = None,
        throttle: Throttle | None = None,
        typing_every: float = 4.0,
        max_attempts: int = 4,
        max_retry_after: float = 30.0,
        provider_token: str = "",
    ) -> None:
        self.scenario = scenario
        self.provider_token = provider_token
        self.files = files or FileIds()
        self.throttle = throttle or Throttle()
        self.typing_every = typing_every
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after

    def asset(self, relative: str) -> Path:
        return self.scenario.funnel.asset(relative)

    def chat(self, bot: Bot, chat_id: int) -> TelegramChannel:
        return TelegramChannel(bot, chat_id, self)

    def for_leads(self, bot: Bot) -> Callable[[LeadRecord], Channel]:
        """``channel_for`` for ``FunnelService.fire_due``: a private chat's id is the user's."""

        def channel_for(lead: LeadRecord) -> Channel:
            if lead.channel != CHANNEL:
                return Unreachable(lead.channel)
            return self.chat(bot, lead.user_id)

        return channel_for


class TelegramChannel:
    def __init__(
        self, bot: Bot, chat_id: int, shared: Channels, terms: PaidSend | None = None
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.shared = shared
        self.terms = terms

    def paid(self, terms: PaidSend) -> TelegramChannel:
        """This chat, for one paid broadcast's copy (``bot.service.ports.PaysForSpeed``)."""
        return TelegramChannel(self.bot, self.chat_id, self.shared, terms)

    async def send(self, message: OutMessage) -> None:
        pieces = plan(message)
        terms = self.terms
        if terms is None:
            await self._send_pieces(pieces, message.priority)
            return
        # All the message's calls are counted first: at the cap a lead gets all of it or none.
        if not await terms.budget.take(len(pieces)):
            raise SendRejected("not sent: the paid broadcast's Stars cap is spent")
        gone = 0  # calls that went out (or may have): Telegram charges for those
        try:
            for piece in pieces:
                try:
                    await self._send_pieces([piece], message.priority)
                except SendInDoubt:
                    gone += 1
                    raise
                except SendRejected as exc:
                    if _NO_STARS.search(str(exc)):
                        await terms.budget.halt(f"the bot's Stars balance is too low ({exc})")
                    raise
                gone += 1
        finally:
            await terms.budget.give_back(len(pieces) - gone)

    async def _send_pieces(self, pieces: list[Piece], priority: Priority) -> None:
        for piece in pieces:
            if piece.kind == "text":
                assert piece.text is not None
                method = SendMessage(
                    chat_id=self.chat_id, text=piece.text, reply_markup=piece.markup
                )
                await self.call(method, priority)
            elif piece.invoice is not None:
                await self.call(self._invoice_method(piece.invoice), priority)
            else:
                await self._send_file(piece, priority)

    def typing(self) -> AbstractAsyncContextManager[None]:
        return self._typing()

    async def is_member(self, chat: str) -> bool | None:
        """``getChatMember`` of the prospect in a gate's channel. Telegram answers it only to
        an admin of that channel: a refusal is "cannot tell" (None), logged for the operator."""
        try:
            found = await self.call(GetChatMember(chat_id=chat, user_id=self.chat_id))
        except (SendRejected, RecipientGone) as exc:
            log.warning("membership of %s in %s not checked: %s", self.chat_id, chat, exc)
            return None
        if isinstance(found, ChatMemberRestricted):
            return found.is_member
        return found.status in MEMBER_STATUSES

    async def decide_join(self, chat: str, approve: bool) -> bool:
        """Let the prospect into ``chat`` (or not): their pending ``chat_join_request``."""
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        decision = ApproveChatJoinRequest if approve else DeclineChatJoinRequest
        try:
            await self.call(decision(chat_id=chat_id, user_id=self.chat_id))
        except (SendRejected, RecipientGone) as exc:
            log.warning("join request of %s to %s not decided: %s", self.chat_id, chat, exc)
            return False
        return True

    @asynccontextmanager
    async def _typing(self) -> AsyncIterator[None]:
        """Show "typing…" until the block ends: aiogram's ``ChatActionSender``, repeated every
        ``typing_every`` s (Telegram shows one action for ~5 s). Chat actions skip the
        Throttle: they are not messages and Telegram does not count them as such. A failed
        action ends the indicator for this block only; the reply itself still goes out."""
        sender = ChatActionSender.typing(
            chat_id=self.chat_id, bot=self.bot, interval=self.shared.typing_every
        )
        async with sender:
            yield

    async def _send_file(self, piece: Piece, priority: Priority) -> None:
        assert piece.file is not None
        path = self.shared.asset(piece.file)
        files = self.shared.files
        try:
            key = files.key(path)
        except OSError as exc:
            raise SendRejected(f"{piece.kind} {piece.file}: {exc.strerror or exc}") from exc
        cached = files.get(key)
        if cached is not None:
            try:
                await self.call(self._file_method(piece, cached), priority)
                return
            except SendRejected as exc:
                if not any(hint in str(exc).lower() for hint in _STALE_FILE_HINTS):
                    raise
                log.info("file id for %s is no longer valid; uploading again", path)
                files.forget(key)
        async with files.lock(key):
            cached = files.get(key)
            media: str | FSInputFile = cached or FSInputFile(path)
            sent = await self.call(self._file_method(piece, media), priority)
            if cached is None and (file_id := _file_id(sent)):
                files.put(key, file_id)

    def _invoice_method(self, invoice: Invoice) -> SendInvoice:
        """Stars (XTR) need no payment provider; any other currency needs its token."""
        token = "" if invoice.currency == STARS else self.shared.provider_token
        if invoice.currency != STARS and not token:
            raise SendRejected(f"an invoice in {invoice.currency} needs PAYMENT_PROVIDER_TOKEN")
        return SendInvoice(
            chat_id=self.chat_id,
            title=invoice.title,
            description=invoice.description,
            payload=invoice.payload,
            currency=invoice.currency,
            prices=[LabeledPrice(label=invoice.title, amount=invoice.amount)],
            provider_token=token or None,
        )

    def _file_method(self, piece: Piece, media: str | FSInputFile) -> TelegramMethod[Message]:
        if piece.kind == "photo":
            return SendPhoto(
                chat_id=self.chat_id, photo=media, caption=piece.text, reply_markup=piece.markup
            )
        return SendDocument(
            chat_id=self.chat_id, document=media, caption=piece.text, reply_markup=piece.markup
        )

    async def call(self, method: TelegramMethod[T], priority: Priority = "reply") -> T:
        """Run one Bot API call: permanent failures raise at once, transient ones are retried
        (bounded), and a call that may have gone through raises ``SendInDoubt``."""
        shared = self.shared
        lane = None
        if self.terms is not None and isinstance(method, PAID_METHODS):
            lane = shared.throttle.lane(self.terms.broadcast_id, self.terms.rate)
            flagged = method.model_copy(update={"allow_paid_broadcast": True})
            method = cast("TelegramMethod[T]", flagged)
        attempt = 0
        while True:
            attempt += 1
            await shared.throttle.acquire(priority, self.chat_id, lane)
            try:
                return await self.bot(method)
            except TelegramRetryAfter as exc:
                shared.throttle.penalize(exc.retry_after, self.chat_id, lane)
                if attempt >= shared.max_attempts or exc.retry_after > shared.max_retry_after:
                    raise SendRejected(f"flood control: {exc.message}") from exc
                log.warning(
                    "chat %s: flood control, retrying in %ss", self.chat_id, exc.retry_after
                )
                continue
            except TelegramForbiddenError as exc:
                raise RecipientGone(exc.message) from exc
            except (
                TelegramBadRequest,
                TelegramNotFound,
                TelegramMigrateToChat,
                TelegramEntityTooLarge,
            ) as exc:
                raise SendRejected(exc.message) from exc
            except TelegramServerError as exc:
                reason = exc.message
            except TelegramNetworkError as exc:
                if not isinstance(exc.__cause__, ClientConnectorError):
                    # A time-out or a connection cut mid-way: Telegram may have delivered it.
                    raise SendInDoubt(f"Telegram did not answer: {exc.message}") from exc
                reason = exc.message  # never connected: the request did not leave
            except ClientDecodeError as exc:
                page = str(exc.data)[:2000]
                if _GATEWAY_TIMEOUT.search(page):
                    raise SendInDoubt("the Bot API's proxy timed out waiting for it") from exc
                reason = f"the Bot API answered with something that is not JSON: {_gist(page)}"
            except Exception as exc:
                # Unforeseen (a library's own error, a malformed answer): it may have gone out.
                raise SendInDoubt(f"{type(exc).__name__}: {exc}") from exc
            if attempt >= shared.max_attempts:
                raise SendRejected(f"Telegram unavailable: {reason}")
            delay = min(2.0 ** (attempt - 1), 10.0)
            log.warning("chat %s: %s; retrying in %.0fs", self.chat_id, reason, delay)
            await asyncio.sleep(delay)


def _gist(page: str) -> str:
    """The first words of an HTML error page (its title), for one log line."""
    title = re.search(r"<title>(.*?)</title>", page, re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", page)
    return " ".join(text.split())[:120]


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


class Unreachable:
    """A lead of another face (e.g. the terminal simulator) met by the Telegram touch loop."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, message: OutMessage) -> None:
        raise SendRejected(f"the lead talks through {self.channel!r}, not Telegram")

    def typing(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()

    async def is_member(self, chat: str) -> bool | None:
        return None

    async def decide_join(self, chat: str, approve: bool) -> bool:
        return False


def _file_id(message: Any) -> str | None:
    if not isinstance(message, Message):
        return None
    if message.photo:
        return message.photo[-1].file_id
    if message.document:
        return message.document.file_id
    return None
