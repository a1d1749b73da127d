"""Channels for the funnel service that keep what they are sent, instead of Telegram.

The service's ``Channel`` protocol is two calls (``send``, ``typing``); these record both,
so a test or a benchmark can walk a lead through the real service and press the buttons
it was shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.engine.types import OutMessage, Press


class NoSuchButton(AssertionError, LookupError):
    """The button pressed is on none of the messages sent (a failed test, or a seed gone
    wrong in a benchmark)."""


class Collect:
    """A channel that keeps what it was sent, optionally failing like Telegram would."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[OutMessage] = []
        self.fail = fail
        self.typing_count = 0
        self.joined: set[str] = set()  # the channels the prospect is a member of
        self.canceled: set[str] = set()  # subscriptions (first charge ids) canceled

    async def is_member(self, chat: str) -> bool | None:
        return chat in self.joined

    async def decide_join(self, chat: str, approve: bool) -> bool:
        if approve:
            self.joined.add(chat)
        return True

    async def cancel_subscription(self, charge_id: str) -> bool:
        self.canceled.add(charge_id)
        return True

    async def send(self, message: OutMessage) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        self.typing_count += 1
        yield

    def press(self, label: str) -> Press:
        """The press of the newest button labelled ``label``."""
        for message in reversed(self.sent):
            for row in message.buttons:
                for button in row:
                    if button.text == label and button.data:
                        return Press(button.data)
        raise NoSuchButton(label)
