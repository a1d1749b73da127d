"""Off-script messages: a typed text that is not what the pending step expects.

Such a text is an answer to the pending step, a question for the knowledge base, a request
for a person, or noise. A question goes out as ``AskKnowledge`` (the service looks it up,
with the model or offline) and comes back as ``Looked``; the answer is the operator's own
text, and then the funnel resumes exactly where it was: the pending question asked again with
its buttons, a running wait left to keep its time.

The intent rules are hand-written on purpose: they must be explainable to an operator and
behave the same offline and online; the model only ever picks a knowledge-base entry.
"""

from __future__ import annotations

import re

from bot.engine.run import Run
from bot.engine.types import (
    Alert,
    AskKnowledge,
    Looked,
)
from bot.knowledge.retrieval import best_entry
from bot.scenario.funnel import Placed
from bot.scenario.model import (
    ConsentStep,
    ContactStep,
    KnowledgeEntry,
    LeadMagnetStep,
    QuestionStep,
    WaitStep,
)
from bot.vocabulary import AlertReason, EventType, LeadStatus, Stage, Waiting

HUMAN_BUTTON = "@h"  # live-button owner: "connect a manager"
KNOWLEDGE_PREFIX = "@k"  # live-button owner: the buttons of a knowledge-base answer
MAX_QUESTION_WORDS = 25  # longer question-shaped texts at a free-text step are answers

_WORD = re.compile(r"\w+", re.UNICODE)
_HUMAN_NOUNS = re.compile(
    r"\b(менеджер\w*|оператор\w*|консультант\w*|живо\w* человек\w*|специалист\w*|"
    r"manager|operator|human|real person|representative|salesperson|sales rep|someone)\b"
)
_HUMAN_CUES = re.compile(
    r"\b(позов\w*|позв\w*|свяж\w*|соедин\w*|дайте|дай|хочу|нужен|нужна|можно|контакт\w*|"
    r"номер\w*|телефон\w*|пообщаться|поговорить|переключ\w*|"
    r"call|connect|talk|speak|give|want|need|contact|number|phone|get me|put me)\b"
)
_ASKING = frozenset(
    """
    сколько как какой какая какое какие каков какова когда где куда почему зачем что чем кто
    можно есть ли работаете делаете даете даёте берете берёте принимаете подскажите скажите
    расскажите объясните будет бывает нужно надо входит включено покажите пришлите скиньте
    отправьте
    what how when where why who which whose do does did can could is are will would should
    may tell explain show send
    """.split()  # noqa: SIM905 -- a word list reads better as words
)
# "Как можно быстрее", "когда-нибудь потом", "как получится", "can't say yet": answers that
# begin with a question word. Checked on the text as written, before any "?" is looked for.
_NOT_ASKING = re.compile(
    r"^\W*(\w+-(то|нибудь|либо)\b|как\s+(можно\s+\w+(ее|ей|ше)\b|получится|обычно|всегда)|"
    r"(cannot|can[’']t|\w+n[’']t)\b|"
    r"(what|whatever|whenever|as soon as) (ever|possible|works))",
)
# "Хочу поговорить с человеком": a person, though no job title is named.
_TALK_TO_A_PERSON = re.compile(
    r"\b(поговорить|пообщаться|связаться|соедините|переключите|свяжите)\s+(меня\s+)?с\s+"
    r"(живым\s+|реальным\s+)?(человеком|людьми)|"
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(real\s+|live\s+)?(person|people|human)"
)
_LEADING = frozenset({"а", "и", "ну", "так", "ещё", "еще", "and", "so", "also", "but"})
_NOISE = frozenset(
    """
    ок ok okay окей хорошо ладно понятно ясно спасибо благодарю ага угу отлично супер класс
    понял поняла принято большое огромное жду ждём ждем пока до свидания всего доброго
    thanks thank thx cool great fine good nice sure got it hi hello привет здравствуйте
    добрый день вечер утро a lot so much noted alright perfect awesome bye you
    """.split()  # noqa: SIM905 -- a word list reads better as words
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def wants_human(text: str) -> bool:
    """ "Позовите менеджера", "дайте контакт менеджера", "call a manager": a person, now."""
    folded = text.casefold()
    if _TALK_TO_A_PERSON.search(folded):
        return True
    if not _HUMAN_NOUNS.search(folded):
        return False
    return bool(_HUMAN_CUES.search(folded)) or len(words(folded)) <= 3


def looks_like_question(text: str) -> bool:
    """A question mark, or a question word first ("а сколько стоит", "how long does it take")."""
    if "?" in text:
        return True
    if _NOT_ASKING.match(text.casefold()):
        return False
    found = words(text)
    while found and found[0] in _LEADING:
        found = found[1:]
    return bool(found) and (found[0] in _ASKING or (len(found) > 1 and found[1] == "ли"))


def is_noise(text: str) -> bool:
    """Thanks, greetings, an emoji: nothing to answer and nothing to store."""
    found = words(text)
    return not found or all(w in _NOISE for w in found)


class OffScript:
    """The off-script rules of one run of the engine."""

    def __init__(self, run: Run) -> None:
        self.run = run

    # --- recognising ---------------------------------------------------------------

    def is_answer(self, placed: Placed, text: str) -> bool:
        """At a free-text question, is ``text`` the answer (True) or a question to us?

        "а сколько стоит?" at "tell us about your business" is a question; a long message
        that also asks something ("we sell windows, how soon can you start?") is an answer.
        """
        step = placed.step
        assert isinstance(step, QuestionStep)
        if any(o.text.casefold() == text.casefold() for o in step.options):
            return True
        if not step.accepts_text or wants_human(text):
            return False
        if is_noise(text) and not looks_like_question(text) and not self.run.state.draft:
            return False  # "ок", "спасибо", 👍 tell nothing about the prospect: asked again
        if not self.run.funnel.scenario.knowledge:
            return True  # no base to ask: whatever is typed here is the answer
        return not looks_like_question(text) or len(words(text)) > MAX_QUESTION_WORDS

    def is_contact_aside(self, text: str) -> bool:
        """At a contact request: a person wanted, or a question (with no phone or e-mail in it)."""
        if wants_human(text):
            return True
        bare = not any(c.isdigit() or c == "@" for c in text)
        return bool(self.run.funnel.scenario.knowledge) and bare and looks_like_question(text)

    def text(self, text: str) -> None:
        """Handle a typed off-script text at any step: a person, the knowledge base or noise."""
        run, st = self.run, self.run.state
        if wants_human(text):
            run.log(EventType.MESSAGE_RECEIVED, st.step, text=text, kind="human")
            self.hand_over(text, self.handoff_entry(text))
            return
        asking = looks_like_question(text)
        if (is_noise(text) and not asking) or not run.funnel.scenario.knowledge:
            # Nothing to look up: the buttons are right above, or the step's own reply will do.
            run.log(EventType.MESSAGE_RECEIVED, st.step, text=text, kind="noise")
            self.default_reply()
            return
        run.log(
            EventType.MESSAGE_RECEIVED, st.step, text=text, kind="question" if asking else "other"
        )
        st.asking = text  # until ``Looked``: a crash before it is resumed (``Resume``)
        run.actions.append(AskKnowledge(text, st.step, asking))

    def forward(self, text: str) -> None:
        """With managers: the message goes to their chat; the prospect is told once."""
        run, st = self.run, self.run.state
        run.log(EventType.MESSAGE_RECEIVED, st.step, text=text, status=st.status)
        run.actions.append(Alert(AlertReason.MESSAGE, st.step, note=text))
        if not st.told_handed_off:
            st.told_handed_off = True
            run.say(run.texts.handed_off)

    def handoff_entry(self, text: str) -> KnowledgeEntry | None:
        """The operator's own hand-off entry for this request, when one of them matches it.

        "Дайте контакт менеджера" in a base with a "how to reach a person" entry hears that
        entry's answer (who will write, when) rather than the built-in line. Only entries that
        hand off are searched, so a request for a person never gets some other entry's facts.
        """
        entries = [e for e in self.run.funnel.scenario.knowledge if e.handoff]
        best = best_entry(entries, text) if entries else None
        return self.entry(best.entry) if best else None

    def hand_over(self, note: str, entry: KnowledgeEntry | None = None) -> None:
        """A request for a person: managers alerted with the message, the bot steps aside.

        ``entry``: the hand-off entry whose answer the prospect hears instead of
        ``texts.human_requested``.
        """
        run, st = self.run, self.run.state
        run.log(EventType.HUMAN_REQUESTED, st.step, length=len(note))
        if entry is not None:
            self.say_entry(entry, remove_keyboard=True)
        else:
            run.say(run.texts.human_requested, st.step, remove_keyboard=True)
        st.status = LeadStatus.HANDED_OFF
        st.waiting = Waiting.MANAGER
        st.draft = ""
        st.told_handed_off = False  # the next message hears texts.handed_off, once
        run.cancel_timers(EventType.HANDED_OFF)
        run.log(EventType.HANDED_OFF, st.step, reason="asked")
        run.raise_stage(Stage.HOT, st.step)
        run.actions.append(Alert(AlertReason.HANDOFF, st.step, note=note))

    # --- answering -----------------------------------------------------------------

    def looked(self, event: Looked) -> None:
        """The knowledge base's pick: answer, or say honestly that we do not know."""
        run, st = self.run, self.run.state
        st.asking = ""
        run.log(
            EventType.QUESTION,
            st.step,
            entry=event.entry,
            path=event.path,
            confidence=event.confidence,
            length=event.length,
            latency_ms=event.latency_ms,
            tokens=event.tokens,
            **({"error": event.error} if event.error else {}),
        )
        entry = self.entry(event.entry)
        if entry is None:
            if event.asked:
                buttons = run.buttons_for(HUMAN_BUTTON, [(run.texts.manager_button, None)])
                run.say(run.texts.kb_unknown, st.step, buttons=buttons)
                self.resume_here()
            else:
                self.default_reply(reask=True)
            return
        if entry.handoff:
            self.hand_over("", entry)
            return
        self.say_entry(entry)
        if entry.goto:
            run.cancel_timers("knowledge")
            st.status, st.draft = LeadStatus.ACTIVE, ""
            run.run(entry.goto)
        else:
            self.resume_here()

    def say_entry(self, entry: KnowledgeEntry, *, remove_keyboard: bool = False) -> None:
        """The entry's answer, with its buttons and file."""
        run = self.run
        owner = f"{KNOWLEDGE_PREFIX}{entry.id}"
        labels = [(b.text, b.url) for b in entry.buttons]
        buttons = run.buttons_for(owner, labels)
        run.say(
            entry.answer,
            run.state.step,
            buttons=buttons,
            document=entry.file,
            remove_keyboard=remove_keyboard and not buttons,
        )

    def entry(self, entry_id: str | None) -> KnowledgeEntry | None:
        entries = self.run.funnel.scenario.knowledge
        return next((e for e in entries if e.id == entry_id), None)

    def knowledge_press(self, owner: str, index: int) -> bool:
        """A button under a knowledge-base answer; False when it is no longer there."""
        run, st = self.run, self.run.state
        if owner == HUMAN_BUTTON:
            self.hand_over("")
            return True
        entry = self.entry(owner.removeprefix(KNOWLEDGE_PREFIX))
        if entry is None or not 0 <= index < len(entry.buttons):
            return False
        button = entry.buttons[index]
        run.log(
            EventType.BUTTON_PRESSED, st.step, text=button.text, goto=button.goto, entry=entry.id
        )
        if button.goto and run.funnel.get(button.goto) is not None:
            run.cancel_timers("button")
            st.status, st.draft = LeadStatus.ACTIVE, ""
            run.run(button.goto)
        return True

    def default_reply(self, *, reask: bool = False) -> None:
        """What a message that is neither an answer nor a known question hears.

        ``reask``: then ask the pending step again (after a look-up found nothing).
        """
        run, st = self.run, self.run.state
        placed = run.funnel.get(st.step)
        if (
            st.status == LeadStatus.COMPLETED
            or placed is None
            or st.waiting in {Waiting.TIMER, None}
        ):
            run.say(run.texts.finished)
        elif (
            st.waiting == Waiting.ANSWER
            and isinstance(placed.step, QuestionStep)
            and not placed.step.options
        ):
            self.resume_here()  # no buttons to point at: the question again
            return
        elif st.waiting in {Waiting.ANSWER, Waiting.CONSENT}:
            run.say(run.texts.unknown)  # the buttons are right above
        if reask:
            self.resume_here()

    def resume_here(self) -> None:
        """Ask the pending step again (with its buttons); a running wait keeps its time."""
        run, st = self.run, self.run.state
        placed = run.funnel.get(st.step)
        if placed is None or st.status != LeadStatus.ACTIVE:
            return
        step = placed.step
        if st.waiting == Waiting.ANSWER and isinstance(step, QuestionStep) and st.draft:
            return  # an answer is being typed; asking again would interrupt it
        if st.waiting == Waiting.ANSWER and isinstance(step, QuestionStep):
            for seq, owner in list(st.live.items()):
                if owner == placed.id:
                    del st.live[seq]  # the fresh buttons below replace the old ones
            buttons = run.buttons_for(placed.id, [(o.text, None) for o in step.options])
            run.say(step.question, placed.id, buttons=buttons)
            run.log(EventType.QUESTION_REPEATED, placed.id)
        elif st.waiting == Waiting.CONSENT and isinstance(step, ConsentStep):
            labels: list[tuple[str, str | None]] = [(step.agree, None), (step.decline, None)]
            labels.append((step.policy_text or run.texts.policy_button, step.policy_url))
            for seq, owner in list(st.live.items()):
                if owner == placed.id:
                    del st.live[seq]
            run.say(step.consent, placed.id, buttons=run.buttons_for(placed.id, labels))
        elif st.waiting in {"contact", "magnet_contact"}:
            self.reask_contact(placed)
        elif st.waiting == "timer" and isinstance(step, WaitStep) and step.on_reply:
            run.log(EventType.REPLIED, placed.id)
            run.cancel_timers(EventType.REPLIED)
            run.run(step.on_reply)
        elif st.waiting == Waiting.CLASSIFY:
            run.classify(None)  # still waiting after a question: the classification was lost

    def reask_contact(self, placed: Placed) -> None:
        run = self.run
        step = placed.step
        if isinstance(step, ContactStep):
            text, ask, optional, button = step.contact, step.ask, step.optional, step.button
        elif isinstance(step, LeadMagnetStep):
            text = step.contact_prompt or step.lead_magnet
            ask, optional, button = "phone_or_email", True, None
        else:
            return
        wants_phone = ask in {"phone", "phone_or_email"}
        run.say(
            text,
            placed.id,
            contact_button=(button or run.texts.phone_button) if wants_phone else None,
            reply_options=(run.texts.skip_button,) if optional else (),
        )
