"""What the service exchanges with the faces around it: protocols, errors and plain records.

A face (Telegram, the terminal simulator, a test) implements ``Channel``; managers' alerts
go to a ``Notifier``; a CRM hears outcomes as an ``EventSink``. Everything crossing this
line is plain data, never an ORM row.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol, runtime_checkable

from bot.engine.types import LeadState, Outcome, OutMessage
from storage.business import Connection
from storage.leads import LeadRecord

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RecipientGone(Exception):
    """The prospect blocked the bot or deleted the account (Telegram's 403)."""


class SendRejected(Exception):
    """The platform refused this one message (e.g. Telegram's 400); the funnel goes on."""


class SendInDoubt(Exception):
    """The message may or may not have reached the prospect (a time-out, a connection cut
    after the request went out, an answer that is not the API's): never sent again blindly."""


class TouchLost(Exception):
    """A claimed touch was released before it ran (its instance seemed dead): skip it."""


class Notifier(Protocol):
    """Where the engine's alerts go (the managers' chat, a CRM)."""

    async def alert(self, lead_id: int, reason: str, step: str | None, note: str = "") -> None:
        """``note``: what the prospect wrote, for alerts about a message."""
        ...


class EventSink(Protocol):
    """Hears every saved outcome (a CRM webhook); it must only queue work, never wait."""

    def publish(self, lead_id: int, outcome: Outcome) -> None: ...


class Channel(Protocol):
    """A face that can show the engine's messages to one prospect."""

    async def send(self, message: OutMessage) -> None: ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def is_member(self, chat: str) -> bool | None:
        """Whether the prospect is in ``chat`` (a lead magnet's gate); None: cannot tell."""
        ...

    async def decide_join(self, chat: str, approve: bool) -> bool:
        """Approve or decline the prospect's request to join ``chat``; False if refused."""
        ...

    async def cancel_subscription(self, charge_id: str) -> bool:
        """Turn off renewal of the prospect's Stars subscription whose first payment was
        ``charge_id``; False if the platform refused (or has no such thing)."""
        ...


class BusinessReach(Protocol):
    """Which Telegram Business connection reaches a lead met in a business chat (the
    service answers it; the Telegram channel asks before it sends a touch)."""

    async def business_connection_of(self, lead_id: int) -> Connection | None: ...


class Budget(Protocol):
    """A paid broadcast's Stars cap, counted in messages (0.1 Star each) before they go."""

    async def take(self, messages: int) -> bool:
        """Count ``messages`` against the cap; False (nothing counted) if they do not fit,
        and the broadcast is then stopped."""
        ...

    async def give_back(self, messages: int) -> None:
        """Taken messages that did not go out (Telegram refused them)."""
        ...

    async def halt(self, reason: str) -> None:
        """Stop the broadcast (e.g. the bot's Stars balance ran out); its copies wait."""
        ...


@dataclass(frozen=True, slots=True)
class PaidSend:
    """The sends of one paid broadcast: Telegram's ``allow_paid_broadcast`` at the
    broadcast's own rate instead of the bot's ~30/s, each counted against its cap first."""

    broadcast_id: int
    rate: float
    budget: Budget


@runtime_checkable
class PaysForSpeed(Protocol):
    """A channel that can send a paid broadcast's copy (Telegram's); others send it as usual."""

    def paid(self, terms: PaidSend) -> Channel: ...


#: Finds the face that reaches a stored lead (for touches and a manager's Return).
ChannelFor = Callable[[LeadRecord], Channel]


@dataclass(frozen=True, slots=True)
class Handover:
    """What a manager's Take or Return did: ``done``, and the lead's status afterwards."""

    lead_id: int
    done: bool
    status: str  # "missing" when there is no such lead


class Due(NamedTuple):
    """A claimed row of the touch queue."""

    touch_id: int
    lead_id: int
    token: int
    kind: str
    broadcast_id: int | None = None
    paid_held: int = 0  # messages of a paid broadcast's cap held for it at the claim


@dataclass(frozen=True, slots=True)
class LeadKey:
    channel: str
    user_id: int


@dataclass(slots=True)
class Result:
    """What one input did: the lead's id, its final state, and a notice for a button press."""

    lead_id: int
    state: LeadState
    toast: str | None
    delivered: list[OutMessage]
    #: Sends that may or may not have arrived (a time-out, a cut connection): not retried.
    in_doubt: list[OutMessage] = field(default_factory=list)
    #: The update was handled before (a webhook retry, a second instance): nothing was done.
    repeated: bool = False


@dataclass
class UpdateMark:
    """The Telegram update a face is handling, recorded as handled in the same transaction
    as the first engine run it causes: its effects and "done" commit together, so a repeat
    of it (even after a crash and a replay) finds it done and changes nothing."""

    update_id: int
    instance: str  # this process (``Presence.id``)
    stale: timedelta  # a taker silent this long is dead: its unfinished update is taken over
    recorded: bool = False
    repeated: bool = False


#: Set by the Telegram face around each update (``app.dispatcher``); None for other faces.
current_update: ContextVar[UpdateMark | None] = ContextVar("current_update", default=None)


class RepeatedUpdate(Exception):
    """The update being handled was handled already: its engine run must not commit."""
