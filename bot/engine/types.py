"""The engine's data: a lead's state, the inputs it reacts to, the actions it returns.

These are plain dataclasses so the same engine drives Telegram, the terminal simulator and
tests; nothing here knows about aiogram or SQL. The words they carry (event types,
statuses, stages, what a lead waits for) are defined once, in ``bot.vocabulary``.
``LeadState.private``/``load_private`` are the one codec for the engine's bookkeeping JSON:
storage and the service go through them (and ``halted_private``), never write it by hand.

long: one vocabulary of plain records (state, every input, every action) read together;
split by kind it would scatter the one list a face must implement.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from bot.vocabulary import EventType, LeadStatus, OrderKind, Stage, Waiting
from bot.vocabulary import Priority as Priority  # re-exported: the faces type their sends

if TYPE_CHECKING:
    from bot.scenario.model import MessageStep

MAX_LIVE_MESSAGES = 30


class PrivateState(TypedDict):
    """The engine's bookkeeping as stored in the lead's one JSON column (``leads.state``)."""

    seq: int
    live: dict[str, str]
    timer: int
    waiting: str | None
    started: bool
    draft: str
    seed: int
    variants: dict[str, str]
    orders: list[str]
    broadcast_buttons: dict[str, list[str | None]]
    told_handed_off: bool
    join_chat: str | None
    asking: str
    after_manager: str


@dataclass(slots=True)
class LeadState:
    """Everything the engine may read or change about one lead."""

    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""
    source: str | None = None
    segment: str | None = None
    readiness: str | None = None
    confidence: int | None = None
    summary: str | None = None
    stage: Stage = Stage.VISITOR
    status: LeadStatus = LeadStatus.ACTIVE
    step: str | None = None
    waiting: Waiting | None = None
    phone: str | None = None
    email: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    consent: str | None = None  # "given" or "declined"
    consent_version: str | None = None
    consent_at: datetime | None = None
    # Private bookkeeping, kept in one JSON column.
    seq: int = 0
    live: dict[str, str] = field(default_factory=dict)  # message seq -> step id, unpressed
    timer: int = 0  # token of the one pending timer (0: none)
    started: bool = False
    draft: str = ""  # typed answer being collected while the prospect may still be typing
    seed: int = 0  # stable per lead: picks A/B variants
    variants: dict[str, str] = field(default_factory=dict)  # step id -> variant id, for good
    orders: list[str] = field(default_factory=list)  # recent payment charge ids (no repeats)
    broadcast_buttons: dict[str, list[str | None]] = field(default_factory=dict)  # seq -> gotos
    told_handed_off: bool = False  # texts.handed_off said since the lead went to managers
    join_chat: str | None = None  # a channel the lead asked to join, not yet decided
    asking: str = ""  # a question sent to the knowledge base and not answered yet
    #: The status a release gives back instead of resuming the chain: "completed" for a
    #: finished lead whose chat the business account's owner stepped into ("": resume).
    after_manager: str = ""

    def copy(self) -> LeadState:
        """A copy the engine may change freely: its lists and dicts are new ones (the rest is
        immutable). A fifth of ``copy.deepcopy``'s cost, which ran on every update."""
        twin = copy.copy(self)
        twin.answers = dict(self.answers)
        twin.flags = list(self.flags)
        twin.live = dict(self.live)
        twin.variants = dict(self.variants)
        twin.orders = list(self.orders)
        twin.broadcast_buttons = {k: list(v) for k, v in self.broadcast_buttons.items()}
        return twin

    def private(self) -> PrivateState:
        """The bookkeeping half of the state, for its JSON column (see ``load_private``)."""
        return {
            "seq": self.seq,
            "live": self.live,
            "timer": self.timer,
            "waiting": self.waiting,
            "started": self.started,
            "draft": self.draft,
            "seed": self.seed,
            "variants": self.variants,
            "orders": self.orders,
            "broadcast_buttons": self.broadcast_buttons,
            "told_handed_off": self.told_handed_off,
            "join_chat": self.join_chat,
            "asking": self.asking,
            "after_manager": self.after_manager,
        }

    def load_private(self, data: Mapping[str, Any] | None) -> None:
        """Read what ``private`` wrote (older rows may lack keys: they get the defaults)."""
        data = data or {}
        self.seq = int(data.get("seq", 0))
        self.live = {str(k): str(v) for k, v in (data.get("live") or {}).items()}
        self.timer = int(data.get("timer", 0))
        waiting = data.get("waiting")
        self.waiting = Waiting(waiting) if waiting else None
        self.started = bool(data.get("started", False))
        self.draft = str(data.get("draft", ""))
        self.seed = int(data.get("seed", 0))
        self.variants = {str(k): str(v) for k, v in (data.get("variants") or {}).items()}
        self.orders = [str(x) for x in data.get("orders") or []]
        self.broadcast_buttons = {
            str(k): [str(t) if t else None for t in v]
            for k, v in (data.get("broadcast_buttons") or {}).items()
        }
        self.told_handed_off = bool(data.get("told_handed_off", False))
        join_chat = data.get("join_chat")
        self.join_chat = str(join_chat) if join_chat else None
        self.asking = str(data.get("asking", ""))
        self.after_manager = str(data.get("after_manager", ""))

    @property
    def has_contact(self) -> bool:
        return bool(self.phone or self.email)


def halted_private(
    data: Mapping[str, Any] | None, *, forget_waiting: bool = False, taken: bool = False
) -> PrivateState:
    """Stored bookkeeping with no pending timer and no half-typed answer.

    For the service and storage, which stop a lead outside the engine (a manager's Take,
    erasing a person): they change the JSON column only through this codec.
    """
    state = LeadState()
    state.load_private(data)
    state.timer, state.draft = 0, ""
    if taken:
        # A manager writes in person: the bot does not add "a manager will write to you";
        # the prospect's messages still reach the managers' chat.
        state.told_handed_off = True
    if forget_waiting:
        state.waiting = None
    return state.private()


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """``/start``, with the deep-link payload already checked (``None`` when absent/invalid)."""

    source: str | None = None
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Press:
    """An inline button press; ``data`` is what the engine put on the button."""

    data: str


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    token: int


@dataclass(frozen=True, slots=True)
class Classified:
    """The qualification's decision, already routed (threshold and rules applied)."""

    segment: str
    confidence: int
    readiness: str
    summary: str = ""
    reason: str = ""
    flags: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stop:
    """``/stop``: unsubscribe."""


@dataclass(frozen=True, slots=True)
class Blocked:
    """Telegram said the prospect blocked the bot."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Paid:
    """Telegram confirmed a payment for an invoice the engine issued (``payload``).

    A Stars subscription's payments say so: the first one (``first_recurring``) starts it,
    each later one (``recurring`` alone) is a renewal Telegram charged by itself; both carry
    when the paid period ends (``expires_at``).
    """

    payload: str
    amount: int  # in minor units, as Telegram reports it
    currency: str
    charge_id: str
    recurring: bool = False
    first_recurring: bool = False
    expires_at: datetime | None = None

    @property
    def renewal(self) -> bool:
        return self.recurring and not self.first_recurring


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A mailing reaches this lead: a one-off message, or the start of a scenario chain."""

    broadcast_id: int
    message: MessageStep | None = None
    chain: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """A manager hands the lead back to the bot."""

    by: str = ""


@dataclass(frozen=True, slots=True)
class Resume:
    """Pick up work that was asked for and never answered (the process died during a
    classification or a knowledge-base look-up): ask for it again, or do nothing."""


@dataclass(frozen=True, slots=True)
class Looked:
    """The knowledge base's pick for an off-script question (``entry`` None: no answer).

    The service produces it after ``AskKnowledge``: with the model, or offline.
    """

    entry: str | None
    path: str  # "llm" or "offline" (or "offline_fallback" after a failed model call)
    confidence: float = 0.0
    length: int = 0  # characters of the question (the text itself is not logged here)
    latency_ms: int = 0
    tokens: int | None = None
    error: str | None = None
    asked: bool = True  # the text was question-shaped (else "no entry" is not confessed)


@dataclass(frozen=True, slots=True)
class Membership:
    """Whether the prospect is in a gate's channel, as the face found out after
    ``CheckMembership``; ``member`` is None when it could not tell (the bot is no admin)."""

    step: str
    member: bool | None
    recheck: bool = False


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A request to join the operator's channel or group (``chat_join_request``): an entry to
    the funnel like ``/start``; ``source`` is the invite link's name, already checked."""

    chat: str
    source: str | None = None
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class CustomerWrote:
    """A customer wrote in a chat of the operator's Telegram Business account. The first
    message is the entry to the funnel, like ``/start`` (``source``: the business
    connection; its words are logged, not answered); later ones are typed text."""

    text: str
    source: str | None = None
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class OwnerWrote:
    """The business account's owner (or another bot on their behalf, ``by``) wrote in the
    customer's chat: the bot steps back there as for a manager's hand-off."""

    text: str
    by: str
    source: str | None = None
    first_name: str = ""
    last_name: str = ""
    username: str = ""


Input = (
    Start
    | Text
    | Press
    | Contact
    | TimerFired
    | Classified
    | Stop
    | Blocked
    | Release
    | Paid
    | Broadcast
    | Looked
    | Membership
    | JoinRequest
    | CustomerWrote
    | OwnerWrote
    | Resume
)


# --- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutButton:
    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """A bill to pay inside Telegram; ``payload`` comes back with the payment."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int  # minor units
    #: Seconds between a subscription's payments; 0 for a one-off invoice. A subscription
    #: goes out as a message with a link button (Telegram's createInvoiceLink; sendInvoice
    #: cannot bill periodically) labelled ``button``.
    period: int = 0
    button: str = ""


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message for any face: Telegram HTML text, inline buttons or a reply keyboard."""

    text: str
    step: str | None = None
    buttons: tuple[tuple[OutButton, ...], ...] = ()
    image: str | None = None
    document: str | None = None
    contact_button: str | None = None  # reply keyboard: share phone
    reply_options: tuple[str, ...] = ()  # reply keyboard: plain text choices
    remove_keyboard: bool = False
    priority: Priority = "reply"
    invoice: Invoice | None = None


@dataclass(frozen=True, slots=True)
class Send:
    message: OutMessage


@dataclass(frozen=True, slots=True)
class Schedule:
    """A timer. ``reply`` timers (waiting for a pause in typing) ignore quiet hours."""

    token: int
    due: datetime
    step: str
    kind: Priority = "touch"


@dataclass(frozen=True, slots=True)
class CancelTimers:
    reason: str


@dataclass(frozen=True, slots=True)
class Log:
    """One event for the lead log (``events``); the type is from the one vocabulary."""

    type: EventType
    step: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SaveAnswer:
    key: str
    question: str
    value: str


@dataclass(frozen=True, slots=True)
class ClassifyRequest:
    """Ask qualification to place the lead; the answer comes back as ``Classified``."""

    answers: tuple[tuple[str, str, str], ...]  # (key, question, answer)
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """Tell the managers about this lead (a hot segment, a hand-off, a click on an offer)."""

    reason: str
    step: str | None = None
    note: str = ""  # the prospect's own words, when they are the reason (forwarded as is)


@dataclass(frozen=True, slots=True)
class AskKnowledge:
    """Look an off-script question up in the knowledge base; the pick comes back as ``Looked``."""

    text: str
    step: str | None = None
    asked: bool = True  # question-shaped; copied to ``Looked``


@dataclass(frozen=True, slots=True)
class RecordOrder:
    """A paid order, for the orders table (the event log has it too)."""

    step: str
    tier: str
    title: str
    amount: int
    currency: str
    charge_id: str
    kind: OrderKind = OrderKind.ONE_OFF


@dataclass(frozen=True, slots=True)
class RecordSubscription:
    """A Stars subscription's payment, for the subscriptions table: the first one starts a
    record (its charge id is the one Telegram wants to cancel it), a renewal moves its end."""

    step: str
    title: str
    amount: int  # Stars a period
    currency: str
    charge_id: str
    expires_at: datetime | None
    renewal: bool = False


@dataclass(frozen=True, slots=True)
class CheckMembership:
    """Ask the face whether the prospect joined ``chat``; the answer comes back as
    ``Membership`` (the engine cannot call Telegram itself)."""

    chat: str
    step: str
    recheck: bool = False


@dataclass(frozen=True, slots=True)
class DecideJoin:
    """Approve (or decline) the lead's pending request to join ``chat``."""

    chat: str
    approve: bool


Action = (
    Send
    | Schedule
    | CancelTimers
    | Log
    | SaveAnswer
    | ClassifyRequest
    | Alert
    | RecordOrder
    | RecordSubscription
    | AskKnowledge
    | CheckMembership
    | DecideJoin
)


@dataclass(slots=True)
class Outcome:
    state: LeadState
    actions: list[Action] = field(default_factory=list)
    toast: str | None = None  # a short notice for the button press itself

    @property
    def messages(self) -> list[OutMessage]:
        return [a.message for a in self.actions if isinstance(a, Send)]

    @property
    def logs(self) -> list[Log]:
        return [a for a in self.actions if isinstance(a, Log)]
