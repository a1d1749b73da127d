"""The scenario language: pydantic models of an operator's YAML file.

A step is a mapping with exactly one *kind* key (``message``, ``question``, ``contact``,
``classify``, ``lead_magnet``, ``offer``, ``wait``, ``branch``, ``handoff``, ``end``,
``goto``); the kind key holds the step's main value (usually its text). Steps run top to
bottom within a chain unless a button, an option, a branch or a ``goto`` says otherwise.

long: the whole grammar of the operator's file in one module, in the order of the file's
sections, because it is the source of the JSON Schema editors read and of every ``file:line``
message; its validators cross sections (texts name answer keys, rules name segments), and
split by section they would import each other back and forth.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    model_validator,
)

from bot.scenario.default_texts import BUILT_IN, Language, detect_language
from bot.time_phrases import Wait, parse_clock, parse_span, parse_wait
from bot.vocabulary import AlertReason, EventType, Readiness, Stage

ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,39}$"
StepId = Annotated[str, Field(pattern=ID_PATTERN, description="The id of a step.")]
SegmentId = Annotated[str, Field(pattern=ID_PATTERN, description="The id of a segment.")]
AnswerKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def _wait(value: Any) -> Wait:
    if isinstance(value, Wait):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write {value}s, {value}m, {value}h or {value}d)")
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    return parse_wait(value)


def _span(value: Any) -> Any:
    if value in (0, "0") or (isinstance(value, str) and value.strip() == "0s"):
        return timedelta(0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write {value}s, {value}m, {value}h or {value}d)")
    if isinstance(value, str):
        return parse_span(value)
    return value


WaitExpr = Annotated[
    Wait,
    BeforeValidator(_wait),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "description": "30s, 10m, 2h, 1d, '1d 12h' or 'next day at 10:00'"}
    ),
]
SpanExpr = Annotated[
    Any,
    BeforeValidator(_span),
    WithJsonSchema({"type": "string", "description": "A span such as 3s, 10m, 2h or 1d."}),
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_FIELDS = frozenset(
    {"first_name", "last_name", "name", "username", "source", "segment", "phone", "email"}
)


def placeholders(text: str) -> list[str]:
    """The ``{field}`` names a text uses."""
    return _PLACEHOLDER.findall(text)


Text = Annotated[str, Field(min_length=1, max_length=20000)]


# Currencies Telegram counts without a fractional part.
ZERO_DECIMAL = frozenset({"XTR", "JPY", "KRW", "VND", "CLP", "ISK", "UGX"})
STARS = "XTR"
#: Telegram renews a Stars subscription every 30 days: the only ``subscription_period`` its
#: createInvoiceLink accepts. ``subscription: monthly`` in a scenario means this.
SUBSCRIPTION_PERIOD = timedelta(days=30)
#: The most Stars one period of a subscription may cost (Telegram refuses more).
MAX_SUBSCRIPTION_STARS = 10000
_MONTHLY = frozenset({"monthly", "month", "30d", "30 days"})


def _monthly(value: Any) -> Any:
    """``monthly`` (or ``30d``): the one period Telegram bills Stars subscriptions by."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _MONTHLY):
        return None if value is None else "monthly"
    raise ValueError(
        f"{value!r}: Telegram renews a Stars subscription every 30 days only;"
        " write 'subscription: monthly'"
    )


class Strict(BaseModel):
    """Unknown keys are mistakes in an operator's file, so they are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Button(Strict):
    """An inline button: jumps to a step, or opens a link."""

    text: Annotated[str, Field(min_length=1, max_length=64)]
    goto: StepId | None = None
    url: Annotated[str, Field(pattern=r"^(https?|tg)://\S+$")] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Button:
        if (self.goto is None) == (self.url is None):
            raise ValueError("a button needs exactly one of 'goto' or 'url'")
        return self


class Option(Strict):
    """A ready answer to a question, shown as a button."""

    text: Annotated[str, Field(min_length=1, max_length=64)]
    value: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    goto: StepId | None = None
    score: dict[SegmentId, int] = Field(
        default_factory=dict, description="Points this answer gives each segment (offline)."
    )

    @property
    def stored(self) -> str:
        """What is written to the answers table."""
        return self.value or self.text


class Variant(Strict):
    """An A/B variant of a step's text; a lead sees one variant of a step for good."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,16}$")]
    weight: Annotated[int, Field(ge=0, le=1000)] = 1
    text: Text
    image: str | None = None


def _check_variants(variants: list[Variant]) -> list[Variant]:
    ids = [v.id for v in variants]
    if len(set(ids)) != len(ids):
        raise ValueError("variant ids must be different")
    if variants and sum(v.weight for v in variants) == 0:
        raise ValueError("at least one variant needs a weight above 0")
    return variants


Variants = Annotated[list[Variant], AfterValidator(_check_variants), Field(max_length=10)]


class StepBase(Strict):
    kind: ClassVar[str] = ""
    id: StepId | None = Field(
        default=None,
        description="Needed when something jumps here; otherwise '<chain>-<n>' is used.",
    )


class MessageStep(StepBase):
    """Say something; the chain goes on at once."""

    kind: ClassVar[str] = "message"

    message: Text
    image: str | None = None
    document: str | None = None
    buttons: list[Button] = Field(default_factory=list, max_length=10)
    variants: Variants = Field(default_factory=list)


class QuestionStep(StepBase):
    """Ask and wait for an answer, by button or typed."""

    kind: ClassVar[str] = "question"

    question: Text
    key: AnswerKey | None = Field(default=None, description="Answer name; defaults to the id.")
    options: list[Option] = Field(default_factory=list, max_length=10)
    free_text: bool | None = Field(
        default=None, description="Accept typed answers (default: only when there are no options)"
    )
    timeout: WaitExpr | None = None
    on_timeout: StepId | None = None

    @model_validator(mode="after")
    def _timeout_pair(self) -> QuestionStep:
        if (self.timeout is None) != (self.on_timeout is None):
            raise ValueError("'timeout' and 'on_timeout' go together")
        return self

    @property
    def accepts_text(self) -> bool:
        return self.free_text if self.free_text is not None else not self.options


class ContactStep(StepBase):
    """Ask for a phone (Telegram's contact button) or an e-mail (typed, checked for form)."""

    kind: ClassVar[str] = "contact"

    contact: Text
    ask: Literal["phone", "email", "phone_or_email"] = "phone"
    button: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    optional: bool = True
    on_skip: StepId | None = None
    thanks: Text | None = None


class ConsentStep(StepBase):
    """Ask for consent to process personal data, with a link to the privacy policy."""

    kind: ClassVar[str] = "consent"

    consent: Text
    policy_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    policy_text: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    agree: Annotated[str, Field(min_length=1, max_length=64)]
    decline: Annotated[str, Field(min_length=1, max_length=64)]
    on_decline: StepId | None = None


class ClassifyStep(StepBase):
    """End of the interview: place the lead in a segment and start its chain."""

    kind: ClassVar[str] = "classify"

    classify: Literal[True] | Text = Field(description="true, or a text shown meanwhile")


class Gate(Strict):
    """A lead magnet given only to members of a channel (checked with getChatMember)."""

    channel: Annotated[str, Field(pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{5,15})$")] = Field(
        description="The channel or group: @username, or -100… id of a private one."
    )
    link: Annotated[str, Field(pattern=r"^https://t\.me/\S+$")] | None = Field(
        default=None, description="Where the join button leads; t.me/<username> by default."
    )
    prompt: Text = Field(description="The ask to join, shown with the join and check buttons.")
    not_yet: Text | None = Field(
        default=None,
        description="Said when a re-check finds no membership (texts.gate_not_yet).",
    )

    @model_validator(mode="after")
    def _reachable(self) -> Gate:
        if self.link is None and not self.channel.startswith("@"):
            raise ValueError("a private channel (-100…) needs a 'link' (its invite link)")
        return self

    @property
    def join_url(self) -> str:
        return self.link or f"https://t.me/{self.channel[1:]}"


class LeadMagnetStep(StepBase):
    """Give the free, valuable thing: a file or a link, optionally for a contact."""

    kind: ClassVar[str] = "lead_magnet"

    lead_magnet: Text
    title: Annotated[str, Field(min_length=1, max_length=200)]
    document: str | None = None
    link: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    link_text: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    requires_contact: bool = False
    contact_prompt: Text | None = None
    gate: Gate | None = Field(
        default=None, description="Give it only after the prospect joined this channel."
    )

    @model_validator(mode="after")
    def _something_to_give(self) -> LeadMagnetStep:
        if self.document is None and self.link is None:
            raise ValueError("a lead magnet needs a 'document' or a 'link'")
        return self


class OfferStep(StepBase):
    """A rung of the product ladder, with a buy button that is logged when pressed."""

    kind: ClassVar[str] = "offer"

    offer: Text
    tier: Literal["tripwire", "core", "upsell"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    price: Annotated[Decimal, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "RUB"
    link: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    invoice: bool = Field(
        default=False,
        description="Sell inside Telegram: the buy button sends an invoice (XTR = Telegram "
        "Stars, no provider needed; other currencies need PAYMENT_PROVIDER_TOKEN).",
    )
    description: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="The invoice's description (default: the title)."
    )
    button: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    image: str | None = None
    buttons: list[Button] = Field(default_factory=list, max_length=9)
    on_click: StepId | None = Field(
        default=None, description="Where the chain goes after the buy button is pressed."
    )
    variants: Variants = Field(default_factory=list)
    subscription: Annotated[Literal["monthly"] | None, BeforeValidator(_monthly)] = Field(
        default=None,
        description="Sell it as a Telegram Stars subscription renewed every 30 days (the one "
        "period Telegram allows): the buy button sends a subscription invoice link. Needs "
        "currency XTR and a whole price of 1-10000 Stars.",
    )

    @model_validator(mode="after")
    def _how_to_pay(self) -> OfferStep:
        if not self.invoice and self.subscription is None and self.link is None:
            raise ValueError(
                "an offer needs a 'link' to order, 'invoice: true' or 'subscription: monthly'"
            )
        if self.invoice and self.currency == "XTR" and self.price != self.price.to_integral():
            raise ValueError("prices in Telegram Stars (XTR) are whole numbers")
        if self.invoice and self.price <= 0:
            raise ValueError("an invoice needs a price above 0")
        return self

    @property
    def sells_in_telegram(self) -> bool:
        """Paid inside Telegram: an invoice, or a subscription's invoice link."""
        return self.invoice or self.subscription is not None

    @property
    def minor_units(self) -> int:
        """The price as Telegram counts it: stars, or kopecks/cents."""
        factor = 1 if self.currency in ZERO_DECIMAL else 100
        return int(self.price * factor)


class WaitStep(StepBase):
    """Pause the chain; with ``on_reply``, a reply during the pause jumps there instead."""

    kind: ClassVar[str] = "wait"

    wait: WaitExpr
    on_reply: StepId | None = None


def _as_text(value: Any) -> Any:
    """YAML reads ``true`` and ``10`` as bool and int; compare them as the text they were."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


class Case(Strict):
    """One arm of a branch."""

    equals: Annotated[str | None, BeforeValidator(_as_text)] = None
    in_: Annotated[list[str] | None, BeforeValidator(_as_text)] = Field(default=None, alias="in")
    contains: Annotated[str | None, BeforeValidator(_as_text)] = None
    goto: StepId

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Case:
        tests = [t for t in (self.equals, self.in_, self.contains) if t is not None]
        if len(tests) != 1:
            raise ValueError("a case needs exactly one of 'equals', 'in' or 'contains'")
        return self

    def matches(self, value: str | None) -> bool:
        if value is None:
            return False
        low = value.casefold()
        if self.equals is not None:
            return low == self.equals.casefold()
        if self.in_ is not None:
            return low in {v.casefold() for v in self.in_}
        assert self.contains is not None
        return self.contains.casefold() in low


class BranchStep(StepBase):
    """Choose the next step by an answer, the segment, the source, or having a contact."""

    kind: ClassVar[str] = "branch"

    branch: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = Field(
        description="An answer key, or one of: segment, source, has_contact"
    )
    cases: list[Case] = Field(min_length=1)
    default: StepId | None = None


class HandoffStep(StepBase):
    """Hand the lead to a manager: touches stop until the manager returns them."""

    kind: ClassVar[str] = "handoff"

    handoff: Text


class EndStep(StepBase):
    """The end of the funnel for this lead."""

    kind: ClassVar[str] = "end"

    end: Literal[True] | Text


class GotoStep(StepBase):
    """Jump to another step."""

    kind: ClassVar[str] = "goto"

    goto: StepId


KINDS: tuple[str, ...] = (
    "message",
    "question",
    "contact",
    "consent",
    "classify",
    "lead_magnet",
    "offer",
    "wait",
    "branch",
    "handoff",
    "end",
    "goto",
)


def step_kind(value: Any) -> str | None:
    """The kind key of a raw or parsed step (``None`` when it has none)."""
    if isinstance(value, StepBase):
        return value.kind
    if isinstance(value, dict):
        found = [k for k in KINDS if k in value]
        # 'goto' is also a field of other kinds' buttons, never of a step with another kind.
        if len(found) > 1 and "goto" in found:
            found.remove("goto")
        return found[0] if len(found) == 1 else None
    return None


Step = Annotated[
    Annotated[MessageStep, Tag("message")]
    | Annotated[QuestionStep, Tag("question")]
    | Annotated[ContactStep, Tag("contact")]
    | Annotated[ConsentStep, Tag("consent")]
    | Annotated[ClassifyStep, Tag("classify")]
    | Annotated[LeadMagnetStep, Tag("lead_magnet")]
    | Annotated[OfferStep, Tag("offer")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[HandoffStep, Tag("handoff")]
    | Annotated[EndStep, Tag("end")]
    | Annotated[GotoStep, Tag("goto")],
    Discriminator(
        step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(KINDS),
    ),
]

AnyStep = (
    MessageStep
    | QuestionStep
    | ContactStep
    | ConsentStep
    | ClassifyStep
    | LeadMagnetStep
    | OfferStep
    | WaitStep
    | BranchStep
    | HandoffStep
    | EndStep
    | GotoStep
)

# Steps after which the engine stops and waits for the prospect, a timer or the classifier.
BLOCKING_KINDS = frozenset({"question", "contact", "consent", "classify", "wait", "handoff", "end"})


class Segment(Strict):
    """A group of prospects with one warming chain."""

    title: Annotated[str, Field(min_length=1, max_length=100)]
    description: Text = Field(description="Who belongs here; the classifier reads this.")
    readiness: Readiness
    stage: Stage = Stage.WARM
    keywords: list[Annotated[str, Field(min_length=2, max_length=64)]] = Field(default_factory=list)
    examples: list[Annotated[str, Field(min_length=2, max_length=500)]] = Field(
        default_factory=list,
        description="Typical phrases of such a prospect; the offline classifier learns from "
        "them and the model sees them as examples.",
    )
    funnel: str | None = Field(default=None, description="Chain to run; defaults to the id.")
    fallback: bool = False
    not_client: bool = False
    hot: bool = Field(default=False, description="Alert a manager when a lead lands here.")


class Rule(Strict):
    """An operator's decision the model may not override, e.g. a low budget caps the segment."""

    when: dict[AnswerKey, Annotated[str | list[str], BeforeValidator(_as_text)]] = Field(
        min_length=1
    )
    segment: SegmentId | None = None
    cap: SegmentId | None = Field(
        default=None, description="The lead is placed no higher than this segment."
    )
    score: dict[SegmentId, int] = Field(default_factory=dict)
    reason: str | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Rule:
        if self.segment is None and self.cap is None and not self.score:
            raise ValueError("a rule needs 'segment', 'cap' or 'score'")
        return self

    def applies(self, answers: dict[str, str]) -> bool:
        for key, expected in self.when.items():
            value = answers.get(key)
            wanted = expected if isinstance(expected, list) else [expected]
            if value is None or value.casefold() not in {w.casefold() for w in wanted}:
                return False
        return True


class Classifier(Strict):
    confidence_threshold: Annotated[int, Field(ge=0, le=100)] = 40
    debounce: SpanExpr = Field(default_factory=lambda: parse_span("2s"))
    rules: list[Rule] = Field(default_factory=list)


class SendingWindow(Strict):
    start: Annotated[Any, BeforeValidator(parse_clock), WithJsonSchema({"type": "string"})]
    end: Annotated[Any, BeforeValidator(parse_clock), WithJsonSchema({"type": "string"})]


class Texts(Strict):
    """What the bot says outside the chains; the demo overrides all of these."""

    help: Text = (
        "I will ask a few short questions and send you useful materials. /stop unsubscribes."
    )
    stop: Text = "You have unsubscribed. Send /start whenever you want to continue."
    restart: Text = "Welcome back! Let's continue."
    unknown: Text = "Thank you! Please use the buttons above, or send /help."
    apology: Text = "Sorry, something went wrong on our side. Please try again in a minute."
    not_current: Text = "This button is no longer active."
    email_invalid: Text = "That does not look like an e-mail address. Please check it."
    phone_invalid: Text = (
        "That does not look like a phone number. Please check it (with the country code,"
        " e.g. +1 415 555 2671) or share it with the button."
    )
    phone_button: Annotated[str, Field(max_length=64)] = "Share my phone number"
    skip_button: Annotated[str, Field(max_length=64)] = "Not now"
    contact_thanks: Text = "Thank you!"
    contact_skipped: Text = "No problem, let's go on without it."
    offer_link: Text = "Here is the link to order «{offer}»:"
    offer_link_button: Annotated[str, Field(max_length=64)] = "Order"
    offer_button: Annotated[str, Field(max_length=64)] = "I want it"
    magnet_link_button: Annotated[str, Field(max_length=64)] = "Open"
    gate_join_button: Annotated[str, Field(max_length=64)] = "Join the channel"
    gate_check_button: Annotated[str, Field(max_length=64)] = "Check subscription"
    gate_not_yet: Text = (
        "I don't see you in the channel yet. Join it, then press «Check subscription» again —"
        " it can take a few seconds to show."
    )
    policy_button: Annotated[str, Field(max_length=64)] = "Privacy policy"
    pay_button: Annotated[str, Field(max_length=64)] = "Pay"
    paid: Text = "Payment received — thank you! «{offer}» is yours."
    # Stars subscriptions (an offer with subscription: monthly); {price} is in Stars.
    subscribe_link: Text = (
        "«{offer}»: {price} ⭐ every 30 days, renewed by Telegram. You can cancel any time in"
        " Telegram's settings, under My Stars."
    )
    subscribe_button: Annotated[str, Field(max_length=64)] = "Subscribe"
    subscribed: Text = (
        "Subscription «{offer}» is on — thank you! Telegram renews it every 30 days; cancel"
        " any time in Telegram's settings, under My Stars."
    )
    renewed: Text = "Your subscription «{offer}» is renewed — thank you for staying with us!"
    too_long: Text = "That is a long message; I kept the beginning of it."
    handed_off: Text = "A manager will write to you shortly."
    finished: Text = "Thank you! If you have questions, just write here."
    forgotten: Text = (
        "Done: your name, contacts and answers are erased, and we will not write again."
    )
    # Off-script messages: said when the knowledge base has no answer, when a prospect asks
    # for a person, and when a button starts a long wait.
    kb_unknown: Text = (
        "I don't have an exact answer to that here, and I'd rather not guess. "
        "A manager can answer it — shall I connect you?"
    )
    manager_button: Annotated[str, Field(max_length=64)] = "Connect a manager"
    human_requested: Text = "Of course — I'm passing your message to a manager now."
    button_noted: Text = "Got it 👍"
    # Said once while the model takes longer than a couple of seconds to answer.
    hold: Text = "One moment, please — I'm looking into it."


class KnowledgeEntry(Strict):
    """One answer of the operator's knowledge base, with example phrasings of its question.

    The bot answers only with this text: neither the model nor the retrieval ever writes a
    fact of its own, they only pick an entry (or none).
    """

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]
    questions: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, description="Example phrasings of the question."
    )
    answer: Text = Field(description="The answer (HTML, placeholders such as {name}).")
    buttons: list[Button] = Field(default_factory=list, max_length=9)
    file: str | None = Field(default=None, description="A document sent with the answer.")
    goto: StepId | None = Field(default=None, description="Continue at this step afterwards.")
    handoff: bool = Field(default=False, description="Connect a manager after answering.")


class WinbackRule(Strict):
    """Catch up with leads who went quiet at a step: they get a chain, once."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    stopped_at: list[StepId] = Field(min_length=1, description="Steps where the lead stopped.")
    idle: SpanExpr = Field(description="No reaction for this long, e.g. 3d.")
    chain: str = Field(description="The funnel (chain) to start.")
    segment: SegmentId | None = None


CrmEvent = Literal[
    "classified",
    "contact_shared",
    "hot_segment",
    "handed_off",
    "taken",
    "released",
    "offer_clicked",
    "order_paid",
]
DEFAULT_CRM_EVENTS: tuple[CrmEvent, ...] = ("classified", "contact_shared", "hot_segment")
# A Literal (it shapes the scenario's JSON schema), but only of words the vocabulary defines.
assert set(get_args(CrmEvent)) <= {*EventType, *AlertReason}


def _positive_span(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise ValueError("must be longer than 0s (leave it out to keep leads with managers)")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


class JoinRequests(Strict):
    """What the bot does with a request to join the operator's channel or group."""

    approve: Literal["at_once", "after_interview", "after_consent", "decline"] = Field(
        default="at_once",
        description=(
            "at_once; after_interview (when the interview is done); after_consent (when the"
            " consent step is agreed to; declined if refused); decline."
        ),
    )


class Scenario(Strict):
    """The whole funnel of one bot."""

    scenario: Literal[1] = Field(description="Format version.")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    business: Text = Field(description="What the business sells and to whom; for the classifier.")
    language: Language = Field(
        default="en",
        description=(
            "Language of the built-in texts (ru or en). Left out: guessed from the business"
            " description and the texts (Cyrillic means ru)."
        ),
    )
    translations: dict[Language, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description=(
            "The same funnel in other languages: language -> sibling scenario file, picked by"
            " the prospect's Telegram language (e.g. en: demo.en.yaml)."
        ),
    )
    timezone: str | None = None
    sending_window: SendingWindow | None = None
    texts: Texts = Field(default_factory=Texts)
    classifier: Classifier = Field(default_factory=Classifier)
    interview: list[Step] = Field(min_length=1)
    segments: dict[SegmentId, Segment] = Field(min_length=1)
    funnels: dict[Annotated[str, Field(pattern=ID_PATTERN)], list[Step]] = Field(min_length=1)
    after_purchase: str | None = Field(
        default=None, description="Chain started after a paid order (upsell, repeat sale)."
    )
    require_consent: bool = Field(
        default=False, description="Ask for contacts only after a consent step was agreed to."
    )
    winback: list[WinbackRule] = Field(
        default_factory=list, description="Automatic win-back rules; each reaches a lead once."
    )
    moved: dict[StepId, StepId] = Field(
        default_factory=dict,
        description="Where leads standing at a removed step continue (old id: new id).",
    )
    handoff_timeout: Annotated[SpanExpr | None, AfterValidator(_positive_span)] = Field(
        default=None,
        description="Give a lead back to the bot after this long with managers, e.g. 2d.",
    )
    subscription_grace: Annotated[SpanExpr, AfterValidator(_not_negative)] = Field(
        default_factory=lambda: timedelta(days=1),
        description=(
            "How long after a Stars subscription's period ends without a renewal it counts as"
            " churned (Telegram says nothing when a subscriber cancels), e.g. 1d."
        ),
    )
    knowledge: list[KnowledgeEntry] = Field(
        default_factory=list,
        description="Answers to free questions, asked at any point of the funnel.",
    )
    join_requests: JoinRequests = Field(
        default_factory=JoinRequests,
        description="Requests to join a channel where the bot is an admin start the funnel.",
    )
    crm_events: list[CrmEvent] = Field(
        default_factory=lambda: list(DEFAULT_CRM_EVENTS),
        description="Lead events POSTed to CRM_WEBHOOK_URL.",
    )

    @model_validator(mode="before")
    @classmethod
    def _texts_in_its_language(cls, data: Any) -> Any:
        """Fill the texts the operator left out with the built-in ones of the language."""
        if not isinstance(data, dict):
            return data
        texts = data.get("texts") or {}
        language = data.get("language")
        if language is None and isinstance(texts, dict):
            language = detect_language([data.get("business"), *texts.values()])
            data = {**data, "language": language}
        built_in = BUILT_IN.get(language) if language in BUILT_IN else None
        if built_in and isinstance(texts, dict):
            data = {**data, "texts": {**built_in, **texts}}
        return data

    def default_texts_in_use(self) -> list[str]:
        """Text names that still say what the bot says built in (not the operator's words)."""
        built_in = BUILT_IN.get(self.language) or {
            name: info.default for name, info in Texts.model_fields.items()
        }
        return [name for name, text in self.texts if built_in.get(name) == text]
