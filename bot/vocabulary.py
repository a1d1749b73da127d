"""The one vocabulary: every event type, status, stage and id prefix, defined once.

Every layer (engine, storage, reports, CRM, Telegram) uses these names instead of bare
strings, so a word cannot drift between the place that writes it and the place that
reads it. They are ``StrEnum``s whose values are today's stored strings: the database, the
event log and the CRM payloads are unchanged, and a member compares equal to its string.
This module imports nothing from the project (everything may import it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class EventType(StrEnum):
    """What happened to a lead: the ``events.type`` column, the CRM's ``event`` field."""

    # arriving, leaving, coming back
    STARTED = "started"
    RESTARTED = "restarted"
    RESUBSCRIBED = "resubscribed"
    UNSUBSCRIBED = "unsubscribed"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    FORGOTTEN = "forgotten"
    # what the prospect typed or pressed
    MESSAGE_RECEIVED = "message_received"
    INPUT_TRUNCATED = "input_truncated"
    BUTTON_PRESSED = "button_pressed"
    STALE_BUTTON = "stale_button"
    REPLIED = "replied"
    #: A free question, and which knowledge-base entry (or none) answered it.
    QUESTION = "free_question"
    #: The pending interview question asked again after an off-script answer.
    QUESTION_REPEATED = "question_repeated"
    #: The prospect asked for a person ("позовите менеджера").
    HUMAN_REQUESTED = "human_requested"
    # the chain moving
    STEP_SENT = "step_sent"
    STEP_MOVED = "step_moved"
    BRANCHED = "branched"
    STAGE_CHANGED = "stage_changed"
    FINISHED = "finished"
    ERROR = "error"
    # the interview and qualification
    QUESTION_ASKED = "question_asked"
    ANSWER_GIVEN = "answer_given"
    NO_REPLY = "no_reply"
    CLASSIFIED = "classified"
    CLASSIFICATION_IGNORED = "classification_ignored"
    # contacts and consent
    CONTACT_REQUESTED = "contact_requested"
    CONTACT_SHARED = "contact_shared"
    CONTACT_INVALID = "contact_invalid"
    CONTACT_DECLINED = "contact_declined"
    CONTACT_REFUSED = "contact_refused"
    CONTACT_KNOWN = "contact_known"
    CONTACT_SKIPPED = "contact_skipped"
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_GIVEN = "consent_given"
    CONSENT_DECLINED = "consent_declined"
    # the product ladder: lead magnet, offers, payments
    LEAD_MAGNET_DELIVERED = "lead_magnet_delivered"
    LEAD_MAGNET_DECLINED = "lead_magnet_declined"
    # a lead magnet's subscription gate: asked to join a channel, checked, let through
    GATE_SHOWN = "gate_shown"
    GATE_NOT_YET = "gate_not_yet"
    GATE_PASSED = "gate_passed"  # already a member when the gate checked
    GATE_JOINED = "gate_joined"  # joined after the ask
    # a request to join the operator's private channel or group, as an entry to the funnel
    JOIN_REQUESTED = "join_requested"
    JOIN_APPROVED = "join_approved"
    JOIN_DECLINED = "join_declined"
    GATE_UNCHECKED = "gate_unchecked"
    OFFER_SHOWN = "offer_shown"
    OFFER_CLICKED = "offer_clicked"
    INVOICE_SENT = "invoice_sent"
    ORDER_PAID = "order_paid"
    PAYMENT_DUPLICATE = "payment_duplicate"
    AFTER_PURCHASE = "after_purchase"
    # a Stars subscription (an offer with ``subscription: monthly``): its first payment, each
    # renewal Telegram charged, the bot turning renewal off, and a period that ran out unpaid
    SUBSCRIPTION_STARTED = "subscription_started"
    SUBSCRIPTION_RENEWED = "subscription_renewed"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    SUBSCRIPTION_CHURNED = "subscription_churned"
    # timers and touches
    TOUCH_SCHEDULED = "touch_scheduled"
    TOUCH_HELD = "touch_held"
    TIMER_IGNORED = "timer_ignored"
    DELIVERY_UNKNOWN = "delivery_unknown"
    #: With ``delivery_unknown`` when the message in doubt was an offer: the reports count
    #: offers delivered and offers in doubt apart.
    OFFER_IN_DOUBT = "offer_in_doubt"
    # managers
    HANDED_OFF = "handed_off"
    TAKEN = "taken"
    RELEASED = "released"
    #: A manager wrote to the prospect (from the dashboard, or as the business account's
    #: owner in their own Telegram Business chat: payload ``by``).
    MANAGER_MESSAGE = "manager_message"
    # Telegram Business: the owner's connection of the bot to their account, per lead of it
    #: The connection may write again (the owner re-enabled it or gave the reply right back).
    BUSINESS_CONNECTED = "business_connected"
    #: The owner disconnected the bot or took its reply right: nothing more is sent there.
    BUSINESS_DISCONNECTED = "business_disconnected"
    # mailings
    BROADCAST_SENT = "broadcast_sent"
    BROADCAST_SKIPPED = "broadcast_skipped"


class AlertReason(StrEnum):
    """Why the managers are told about a lead (the engine's ``Alert.reason``)."""

    HOT_SEGMENT = "hot_segment"
    OFFER_CLICKED = "offer_clicked"
    HANDOFF = "handoff"
    #: A prospect wrote while a manager has the lead: the message goes to their chat.
    MESSAGE = "message"


class LeadStatus(StrEnum):
    """Whether the bot may write to a lead (``leads.status``)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    UNSUBSCRIBED = "unsubscribed"
    BLOCKED = "blocked"
    HANDED_OFF = "handed_off"


class Stage(StrEnum):
    """Where the lead stands on the visitor → cold → warm → hot → customer ladder."""

    VISITOR = "visitor"
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"
    CUSTOMER = "customer"


class Readiness(StrEnum):
    """Purchase readiness, as the method names it."""

    READY_TO_BUY = "ready_to_buy"
    COMPARING = "comparing"
    COLLECTING_INFO = "collecting_info"
    WANTS_TO_TRY = "wants_to_try"
    NOT_A_FIT = "not_a_fit"


#: The ladder in order: a lead only moves up it (``Stage`` members compare as strings).
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class Waiting(StrEnum):
    """What the chain is waiting for at the lead's current step."""

    ANSWER = "answer"
    CONTACT = "contact"
    MAGNET_CONTACT = "magnet_contact"
    CONSENT = "consent"
    TIMER = "timer"
    CLASSIFY = "classify"
    MANAGER = "manager"
    SUBSCRIPTION = "subscription"  # a lead magnet's gate: until the prospect joins a channel


class OrderKind(StrEnum):
    """What a paid order was (``orders.kind``, the ``kind`` of an ``order_paid`` event)."""

    ONE_OFF = "one_off"
    #: The first payment of a Stars subscription.
    SUBSCRIPTION = "subscription"
    #: A later period of a subscription, charged by Telegram on its own.
    RENEWAL = "renewal"


class SubscriptionState(StrEnum):
    """A Stars subscription's standing (``subscriptions.state``).

    Telegram tells the bot about payments only: a subscriber who cancels in Telegram is seen
    as a period that ran out without a renewal (``CHURNED``, after the scenario's grace).
    """

    ACTIVE = "active"
    #: The bot (a manager's /cancelsub) turned renewal off; paid up until it expires.
    CANCELED = "canceled"
    CHURNED = "churned"


class Consent(StrEnum):
    """The prospect's answer to a consent step (``leads.consent``)."""

    GIVEN = "given"
    DECLINED = "declined"


#: Whose turn an outgoing message is: a reply the prospect waits for, or a touch. A
#: ``Literal`` rather than an enum: it is a parameter default at every sending call.
Priority = Literal["reply", "touch"]


class TouchState(StrEnum):
    """A row of the scheduled-touches queue (``scheduled_touches.state``)."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the sender died mid-send: maybe delivered, never sent twice


#: ``scheduled_touches.kind`` of pending work (a classification, a knowledge look-up) held by
#: the instance doing it: released to the queue if that instance dies, it fires ``Resume``.
RESUME_KIND = "resume"


class BroadcastState(StrEnum):
    """A mailing's state (``broadcasts.state``)."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    #: Stopped by the bot itself (``broadcasts.stop_reason`` says why: a paid broadcast's
    #: Stars cap is spent, or the bot's Stars balance ran out); its copies wait, as paused.
    STOPPED = "stopped"


class BroadcastKind(StrEnum):
    """What a mailing carries (``broadcasts.kind``)."""

    MESSAGE = "message"
    CHAIN = "chain"
    WINBACK = "winback"


class LeadFlag(StrEnum):
    """Marks a classification puts on a lead for a manager to look at (``state.flags``)."""

    #: The answers looked like a prompt-injection attempt: no alert, capped verdict.
    INJECTION_SUSPECTED = "injection_suspected"
    #: The model was unsure; the lead went to the fallback segment.
    LOW_CONFIDENCE = "low_confidence"


#: The names as command options and filters spell them.
STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
STATUSES: tuple[str, ...] = tuple(s.value for s in LeadStatus)

#: The engine's step id of a broadcast message is ``@b<broadcast id>``.
BROADCAST_PREFIX = "@b"
#: The payload of every invoice the engine issues is ``offer:<offer step id>``.
OFFER_PAYLOAD_PREFIX = "offer:"
#: The ``reason`` of a ``handed_off`` the business account's owner made by writing in the chat.
HANDOFF_BY_OWNER = "owner"
#: The source of a lead met in a Telegram Business chat is ``business:<owner>``.
BUSINESS_SOURCE_PREFIX = "business:"


def broadcast_step(broadcast_id: int) -> str:
    """The step id the engine logs a broadcast message under."""
    return f"{BROADCAST_PREFIX}{broadcast_id}"


def invoice_payload(step_id: str) -> str:
    """The payload of the invoice for the offer at ``step_id``."""
    return f"{OFFER_PAYLOAD_PREFIX}{step_id}"


def business_source(owner: str) -> str:
    """The source of leads met in the chats of the business account ``owner`` (its
    username, or its user id when it has none), within the 64 characters of a source."""
    return f"{BUSINESS_SOURCE_PREFIX}{owner}"[:64]


def offer_of_payload(payload: str) -> str | None:
    """The offer step id an invoice payload names, or None when it is not ours."""
    if not payload.startswith(OFFER_PAYLOAD_PREFIX):
        return None
    return payload.removeprefix(OFFER_PAYLOAD_PREFIX)
