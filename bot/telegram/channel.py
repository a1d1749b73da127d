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

A chat of the operator's Telegram Business account is a ``TelegramChannel`` with a
``connection``: every call that takes ``business_connection_id`` gets it in one place
(``on_behalf``). A stored business lead is reached through ``LinkedChat``, which asks the
service for the lead's connection first and sends nothing when it is disabled or may not
reply (the lead is then unreachable, as after a block).

A paid broadcast's copy (``TelegramChannel.paid``) goes with ``allow_paid_broadcast`` through
its own lane of the Throttle, each of its messages counted against the Stars cap first and
given back when Telegram refuses it; Telegram refusing for want of Stars stops the broadcast.

long: one chat's calls and the one translation of Telegram's answers, with the two stand-ins
``Channels`` hands out for stored leads (``LinkedChat``, ``Unreachable``); split apart, the
factory and its stand-ins would import each other back and forth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar, cast

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import (
    ClientDecodeError,
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
    CreateInvoiceLink,
    DeclineChatJoinRequest,
    EditUserStarSubscription,
    GetChatMember,
    SendChatAction,
    SendDocument,
    SendInvoice,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    ChatMemberRestricted,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
)
from aiogram.utils.chat_action import ChatActionSender
from aiohttp import ClientConnectorError

from bot.engine.types import Invoice, OutMessage, Priority
from bot.service import (
    BusinessReach,
    Channel,
    RecipientGone,
    ScenarioHolder,
    SendInDoubt,
    SendRejected,
)
from bot.service.ports import PaidSend
from bot.telegram.files import FileIds
from bot.telegram.layout import Piece
from bot.telegram.methods import SendText
from bot.telegram.render import plan
from bot.telegram.throttle import Throttle
from storage.leads import LeadRecord

log = logging.getLogger(__name__)

CHANNEL = "telegram"
#: The leads met in the chats of the operator's Telegram Business account: apart from the
#: same person's lead in the bot's own chat (Telegram keeps the two chats apart as well).
BUSINESS = "business"
STARS = "XTR"
#: Who counts as having joined a gate's channel (a restricted member says so itself).
MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)
_STALE_FILE_HINTS = ("wrong file identifier", "file reference", "wrong remote file")
#: A proxy's page saying it gave up waiting for the Bot API: the request may have gone through.
_GATEWAY_TIMEOUT = re.compile(r"\b504\b|gateway time-?out", re.IGNORECASE)
#: Telegram's refusals of a business connection that is gone (disconnected, never known) or
#: may not write in this chat now: the customer is out of reach until they write again.
_CONNECTION_GONE = (
    "business connection not found",
    "business_connection_invalid",
    "bot_access_forbidden",
)
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
        reach: BusinessReach | None = None,
    ) -> None:
        self.scenario = scenario
        #: Which business connection reaches a stored lead (``app.factory`` sets the service).
        self.reach = reach
        self.provider_token = provider_token
        self.files = files or FileIds()
        self.throttle = throttle or Throttle()
        self.typing_every = typing_every
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        #: Subscription invoice links by what they bill: one createInvoiceLink per offer and
        #: price, shared by every prospect (a link is not tied to a chat).
        self.invoice_links: dict[Invoice, str] = {}

    def asset(self, relative: str) -> Path:
        return self.scenario.funnel.asset(relative)

    def chat(self, bot: Bot, chat_id: int, connection: str | None = None) -> TelegramChannel:
        """The bot's private chat with ``chat_id``, or with ``connection`` the chat of that
        Telegram Business connection's account with the customer ``chat_id``."""
        return TelegramChannel(bot, chat_id, self, connection)

    def for_leads(self, bot: Bot) -> Callable[[LeadRecord], Channel]:
        """``channel_for`` for ``FunnelService.fire_due``: a private chat's id is the user's
        (in a business chat too: the customer's)."""

        def channel_for(lead: LeadRecord) -> Channel:
            if lead.channel == BUSINESS:
                return LinkedChat(bot, lead.id, lead.user_id, self)
            if lead.channel != CHANNEL:
                return Unreachable(lead.channel)
            return self.chat(bot, lead.user_id)

        return channel_for


class TelegramChannel:
    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        shared: Channels,
        connection: str | None = None,
        terms: PaidSend | None = None,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.shared = shared
        #: The Telegram Business connection this chat is reached through (None: the bot's).
        self.connection = connection
        self.terms = terms

    def paid(self, terms: PaidSend) -> TelegramChannel:
        """This chat, for one paid broadcast's copy (``bot.service.ports.PaysForSpeed``)."""
        return TelegramChannel(self.bot, self.chat_id, self.shared, self.connection, terms)

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
            if piece.kind == "text":  # nothing reads the message back: see SendText
                assert piece.text is not None
                text = SendText(chat_id=self.chat_id, text=piece.text, reply_markup=piece.markup)
                await self.call(text, priority)
            elif piece.kind == "invoice_link":
                assert piece.invoice is not None and piece.text is not None
                url = await self._invoice_link(piece.invoice, priority)
                button = InlineKeyboardButton(text=piece.invoice.button or "⭐", url=url)
                markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
                method = SendMessage(chat_id=self.chat_id, text=piece.text, reply_markup=markup)
                await self.call(method, priority)
            elif piece.invoice is not None:
                await self.call(self._invoice_method(piece.invoice), priority)
            else:
                await self._send_file(piece, priority)

    def typing(self) -> AbstractAsyncContextManager[None]:
        return self._typing() if self.connection is None else self._typing_on_behalf()

    def on_behalf(self, method: TelegramMethod[T]) -> TelegramMethod[T]:
        """The one place a call becomes the business account's: ``business_connection_id``
        on every method that takes it. Telegram sends no invoice on an account's behalf,
        so an invoice for a business chat is refused here rather than sent by the bot."""
        if self.connection is None:
            return method
        if "business_connection_id" in type(method).model_fields:
            return method.model_copy(update={"business_connection_id": self.connection})
        if isinstance(method, SendInvoice):
            raise SendRejected("Telegram sends no invoice on a business account's behalf")
        return method

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

    async def cancel_subscription(self, charge_id: str) -> bool:
        """Turn off the renewal of the prospect's Stars subscription (editUserStarSubscription,
        named by its first payment's charge id); it stays paid up to the end of its period.
        False when Telegram refused or did not answer (nothing is assumed then)."""
        method = EditUserStarSubscription(
            user_id=self.chat_id, telegram_payment_charge_id=charge_id, is_canceled=True
        )
        try:
            done: bool = await self.call(method)
        except (SendRejected, RecipientGone, SendInDoubt) as exc:
            log.warning("subscription %s of %s not canceled: %s", charge_id, self.chat_id, exc)
            return False
        return done

    async def _invoice_link(self, invoice: Invoice, priority: Priority) -> str:
        """The subscription's invoice link, created once per offer and price."""
        links = self.shared.invoice_links
        link = links.get(invoice)
        if link is None:
            method = CreateInvoiceLink(
                title=invoice.title,
                description=invoice.description,
                payload=invoice.payload,
                currency=invoice.currency,
                prices=[LabeledPrice(label=invoice.title, amount=invoice.amount)],
                subscription_period=invoice.period,
            )
            link = links[invoice] = await self.call(method, priority)
        return link

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

    @asynccontextmanager
    async def _typing_on_behalf(self) -> AsyncIterator[None]:
        """Show "typing…" in a business chat: aiogram's ``ChatActionSender`` cannot say on
        whose behalf, so the same loop by hand; a refused action stays quiet (the bot's
        ``QuietChatActions``) or ends the loop, and the reply goes out either way."""
        action = self.on_behalf(SendChatAction(chat_id=self.chat_id, action="typing"))

        async def repeat() -> None:
            while True:
                await self.bot(action)
                await asyncio.sleep(self.shared.typing_every)

        task = asyncio.create_task(repeat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

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
        method = self.on_behalf(method)
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
            except TelegramBadRequest as exc:
                if self.connection is not None and any(
                    gone in exc.message.lower() for gone in _CONNECTION_GONE
                ):
                    raise RecipientGone(f"business connection gone: {exc.message}") from exc
                raise SendRejected(exc.message) from exc
            except (TelegramNotFound, TelegramMigrateToChat, TelegramEntityTooLarge) as exc:
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


class LinkedChat:
    """A stored business lead's chat, reached through the connection its customer last
    wrote through (asked of the service when first needed, once per channel).

    Nothing goes to Telegram when that connection is disabled or may not reply, or none
    is known: the lead is unreachable (``RecipientGone``: the service stops its timers and
    logs why, as after a block) until the customer writes again through a working one.
    """

    def __init__(self, bot: Bot, lead_id: int, chat_id: int, shared: Channels) -> None:
        self.bot = bot
        self.lead_id = lead_id
        self.chat_id = chat_id
        self.shared = shared
        self._chat: TelegramChannel | None = None

    async def resolve(self) -> TelegramChannel:
        if self._chat is None:
            reach = self.shared.reach
            conn = await reach.business_connection_of(self.lead_id) if reach else None
            if conn is None:
                raise RecipientGone("no business connection reaches this chat")
            if not conn.usable:
                raise RecipientGone(f"business connection {conn.id} is {conn.standing}")
            self._chat = self.shared.chat(self.bot, self.chat_id, conn.id)
        return self._chat

    async def send(self, message: OutMessage) -> None:
        await (await self.resolve()).send(message)

    def typing(self) -> AbstractAsyncContextManager[None]:
        return self._typing()

    @asynccontextmanager
    async def _typing(self) -> AsyncIterator[None]:
        try:
            chat = await self.resolve()
        except RecipientGone:
            yield  # the send that follows says so
            return
        async with chat.typing():
            yield

    async def is_member(self, chat: str) -> bool | None:
        try:
            return await (await self.resolve()).is_member(chat)
        except RecipientGone:
            return None

    async def decide_join(self, chat: str, approve: bool) -> bool:
        try:
            return await (await self.resolve()).decide_join(chat, approve)
        except RecipientGone:
            return False

    async def cancel_subscription(self, charge_id: str) -> bool:
        """A subscription is the bot's own sale (no invoices go out on an account's behalf):
        it is cancelled with the customer's user id, whichever chat they wrote from."""
        return await self.shared.chat(self.bot, self.chat_id).cancel_subscription(charge_id)


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

    async def cancel_subscription(self, charge_id: str) -> bool:
        return False


def _file_id(message: Any) -> str | None:
    if not isinstance(message, Message):
        return None
    if message.photo:
        return message.photo[-1].file_id
    if message.document:
        return message.document.file_id
    return None
