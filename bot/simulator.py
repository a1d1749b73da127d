"""``leadbot chat``: the funnel in a terminal, on the real engine and the real database.

Buttons become numbered choices; waits can be skipped with ``/skip``; everything is logged
exactly as for a Telegram prospect (channel ``terminal``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.engine.types import Contact, Input, OutMessage, Paid, Press, Start, Stop, Text
from bot.scenario.markup import strip_tags
from bot.service import Channel, FunnelService, LeadKey
from storage.leads import LeadRecord

CHANNEL = "terminal"
DEFAULT_NAME = "Tester"  # `leadbot chat` without --name, for a lead not seen before
HELP = (
    "Simulator commands: a number picks a choice; any other text is your answer.\n"
    "  /skip   fire the next waiting touch now      /stop   unsubscribe\n"
    "  /start  start again (re-subscribe)           /quit   leave (the lead is kept)\n"
    "  /help   the bot's help text (as in Telegram) /forget erase my data (as in Telegram)"
)


@dataclass
class Choice:
    label: str
    event: Input | None = None
    url: str | None = None


@dataclass
class TerminalChannel:
    """Prints messages and remembers the choices they offered."""

    out: TextIO
    phone: str
    choices: list[Choice] = field(default_factory=list)
    fresh: bool = True
    simulated_charges: int = 0

    async def send(self, message: OutMessage) -> None:
        offers_choices = bool(
            message.buttons or message.contact_button or message.reply_options or message.invoice
        )
        if self.fresh and offers_choices:
            # Numbers refer to the latest batch of choices; a plain reply keeps the old ones.
            self.choices = []
            self.fresh = False
        text = strip_tags(message.text.replace("<br>", "\n"))
        self.out.write(f"\nbot> {text.strip()}\n")
        if message.image:
            self.out.write(f"     [image: {message.image}]\n")
        if message.document:
            self.out.write(f"     [file: {message.document}]\n")
        if message.invoice:
            bill = message.invoice
            self.simulated_charges += 1
            charge = f"simulated-{self.simulated_charges}"
            if bill.period:
                days = bill.period // 86400
                self.out.write(
                    f"     [subscription: {bill.title} — {bill.amount} {bill.currency}"
                    f" every {days} days]\n"
                )
                ends = datetime.now(UTC) + timedelta(seconds=bill.period)
                first = Paid(bill.payload, bill.amount, bill.currency, charge, True, True, ends)
                self.add(Choice(f"{bill.button or 'Subscribe'} (simulated)", first))
            else:
                self.out.write(
                    f"     [invoice: {bill.title} — {bill.amount} {bill.currency} in minor units]\n"
                )
                paid = Paid(bill.payload, bill.amount, bill.currency, charge)
                self.add(Choice("Pay (simulated)", paid))
        for row in message.buttons:
            for button in row:
                if button.url:
                    self.add(Choice(button.text, url=button.url))
                else:
                    assert button.data is not None
                    self.add(Choice(button.text, Press(button.data)))
        if message.contact_button:
            self.add(Choice(f"{message.contact_button} ({self.phone})", Contact(self.phone)))
        for option in message.reply_options:
            self.add(Choice(option, Text(option)))
        self.out.flush()

    def add(self, choice: Choice) -> None:
        self.choices.append(choice)
        suffix = f" -> {choice.url}" if choice.url else ""
        self.out.write(f"     [{len(self.choices)}] {choice.label}{suffix}\n")

    async def is_member(self, chat: str) -> bool | None:
        # The terminal has no Telegram account to look up: the gate lets the tester through
        # and the log says it was not checked (gate_unchecked).
        self.out.write(f"     (membership of {chat} cannot be checked here: let through)\n")
        return None

    async def decide_join(self, chat: str, approve: bool) -> bool:
        self.out.write(f"     ({'approved' if approve else 'declined'}: joining {chat})\n")
        return True

    async def cancel_subscription(self, charge_id: str) -> bool:
        self.out.write(f"     (subscription {charge_id}: renewal turned off)\n")
        return True

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        self.out.write("     (typing…)\n")
        self.out.flush()
        yield

    def pick(self, line: str) -> Input | None:
        if line.isdigit() and 1 <= int(line) <= len(self.choices):
            choice = self.choices[int(line) - 1]
            if choice.url:
                self.out.write(f"     (opens {choice.url})\n")
                return None
            return choice.event
        return Text(line)


async def run_chat(
    service: FunnelService,
    user_id: int,
    source: str | None,
    first_name: str | None,
    phone: str,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    key = LeadKey(CHANNEL, user_id)
    channel = TerminalChannel(out, phone)
    lock = asyncio.Lock()

    def channel_for(_lead: LeadRecord) -> Channel:
        return channel

    async def feed(event: Input) -> None:
        async with lock:
            channel.fresh = True
            result = await service.handle(key, event, channel)
            if result.toast:
                out.write(f"     ({result.toast})\n")
            if result.state.draft:
                # The bot waits for a pause in typing before it reads an answer; so do we.
                await asyncio.sleep(
                    service.scenario.funnel.scenario.classifier.debounce.total_seconds()
                )
                channel.fresh = True
                await service.fire_due(channel_for, worker="simulator", channel=CHANNEL)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1)
            async with lock:
                channel.fresh = True
                await service.fire_due(channel_for, worker="simulator", channel=CHANNEL)

    if first_name is None:
        # A returning tester keeps the name stored; only a new lead needs one made up.
        stored = await service.record_of(key)
        first_name = "" if stored is not None and stored.first_name else DEFAULT_NAME
    out.write(HELP + "\n")
    await feed(Start(source=source, first_name=first_name))
    tick = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    try:
        while True:
            out.write("you> ")
            out.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line in {"/quit", "/exit"}:
                break
            if line == "/help":
                # What a Telegram prospect gets for /help, then the simulator's own keys.
                await channel.send(OutMessage(text=service.scenario.funnel.scenario.texts.help))
                out.write(HELP + "\n")
            elif line == "/forget":
                async with lock:  # the same erasure as Telegram's /forget (FunnelService)
                    await service.forget(key)
                    channel.choices = []
                    texts = service.scenario.funnel.scenario.texts
                    await channel.send(OutMessage(text=texts.forgotten))
            elif line == "/skip":
                async with lock:
                    skipped = await service.skip_wait(key)
                    channel.fresh = True
                    if skipped:
                        await service.fire_due(channel_for, worker="simulator", channel=CHANNEL)
                    else:
                        out.write("     (nothing is waiting)\n")
            elif line == "/stop":
                await feed(Stop())
            elif line.startswith("/start"):
                payload = line.removeprefix("/start").strip() or None
                await feed(Start(source=payload, first_name=first_name))
            else:
                event = channel.pick(line)
                if event is not None:
                    await feed(event)
    finally:
        tick.cancel()
        out.write("\n(bye: the lead is saved; run `leadbot chat` again to continue)\n")
        out.flush()
