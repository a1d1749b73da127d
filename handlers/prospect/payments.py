"""Payments inside Telegram: the pre-checkout question, then the payment itself.

Telegram asks before charging (``pre_checkout_query``, to be answered within 10 s) and then
sends a ``successful_payment`` message; only the latter is a sale, fed to the engine as
``Paid`` (the engine ignores a charge id it has already seen). A Stars subscription's
payments carry ``is_recurring`` (each period), ``is_first_recurring`` (the first) and the end
of the paid period: renewals come as the same message, Telegram charging on its own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, PreCheckoutQuery

from bot.engine.types import Paid
from bot.service import FunnelService
from bot.telegram.channel import Channels
from bot.vocabulary import OFFER_PAYLOAD_PREFIX
from handlers.filters import Magic
from handlers.reply import lead_key, texts

log = logging.getLogger(__name__)


async def checkout(query: PreCheckoutQuery, service: FunnelService) -> None:
    """Accept payments for our own invoices; an offer since renamed is still a sale."""
    ours = query.invoice_payload.startswith(OFFER_PAYLOAD_PREFIX)
    try:
        if ours:
            await query.answer(ok=True)
        else:
            sorry = texts(service, query.from_user).apology[:255]
            await query.answer(ok=False, error_message=sorry)
    except TelegramAPIError as exc:
        log.warning("pre-checkout %s not answered: %s", query.id, exc)


async def paid(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    payment = message.successful_payment
    assert payment is not None and message.from_user is not None
    expires = payment.subscription_expiration_date
    event = Paid(
        payload=payment.invoice_payload,
        amount=payment.total_amount,
        currency=payment.currency,
        charge_id=payment.telegram_payment_charge_id,
        recurring=bool(payment.is_recurring),
        first_recurring=bool(payment.is_first_recurring),
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
    )
    await service.handle(lead_key(message.from_user), event, channels.chat(bot, message.chat.id))


def router() -> Router:
    payments = Router(name="payments")
    payments.pre_checkout_query.register(checkout)
    payments.message.register(paid, Magic(F.successful_payment))
    return payments
