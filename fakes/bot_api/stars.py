"""Paid broadcasts in the fake: ``allow_paid_broadcast``, its own limit, the bot's Stars.

Telegram's rule (Bot API, sendMessage and the other sends): "Pass True to allow up to 1000
messages per second, ignoring broadcasting limits for a fee of 0.1 Telegram Stars per
message. The relevant Stars will be withdrawn from the bot's balance." So a send with the
flag skips the fake's overall ``global_rate`` (about 30/s on Telegram) and counts against
``paid_rate`` (1000/s) instead; a chat's own limit applies to every send alike. Each
successful paid send takes 0.1 Star from the balance the fake keeps for the bot.

When the balance cannot pay, the fake answers 400 ``Bad Request: BALANCE_TOO_LOW``. That is
the name of Telegram's MTProto error for "the current Telegram Stars balance is too low"
(documented for the client API); the Bot API's exact wording for a paid broadcast was not
found in any published source, so this text is our best guess, and the bot recognises it
together with "not enough stars" (``bot.telegram.channel``).
"""

from __future__ import annotations

from decimal import Decimal

from fakes.bot_api.records import Call, TokenBucket, bad_request

#: What one message sent with ``allow_paid_broadcast`` costs, in Stars.
PRICE = Decimal("0.1")
NO_STARS = "BALANCE_TOO_LOW"
#: Telegram's ceiling for paid broadcasts, messages a second.
PAID_RATE = 1000.0


class StarLedger:
    """The bot's Stars balance, the paid limit, and which sends were paid."""

    def __init__(self, balance: Decimal | int | str = 0, rate: float | None = PAID_RATE) -> None:
        self.balance = Decimal(balance)
        self.spent = Decimal(0)
        self.rate = rate
        self._bucket: TokenBucket | None = None
        self.paid_calls: list[Call] = []  # successful sends with the flag, in order

    @staticmethod
    def is_paid(call: Call) -> bool:
        return call.paid

    def bucket(self) -> TokenBucket | None:
        """The paid limit's bucket (one second's worth of messages), or None: unlimited."""
        if self.rate is None:
            return None
        if self._bucket is None:
            self._bucket = TokenBucket(self.rate, max(1, round(self.rate)))
        return self._bucket

    def check(self, call: Call) -> None:
        """Before the send: refuse it when the balance cannot pay for it."""
        if self.balance < PRICE:
            raise bad_request(NO_STARS)

    def debit(self, call: Call) -> None:
        """After a successful send: take its price and remember it was paid."""
        self.balance -= PRICE
        self.spent += PRICE
        self.paid_calls.append(call)
