"""Telegram Business chats: the funnel in the owner's own chats with customers.

A customer's first message there is the entry to the funnel (there is no ``/start`` in
someone's personal chat); what they write later is typed text, as in the bot's chat. When
the owner writes in the chat themselves, the bot steps back there as for a manager's
hand-off: status ``handed_off``, timers cancelled, managers alerted, and silence until a
manager's Return or the scenario's ``handoff_timeout`` (counted from the owner's latest
message) gives the lead back. The face tells customer and owner apart; the engine only
hears ``CustomerWrote`` or ``OwnerWrote``.
"""

from __future__ import annotations

from bot.engine.run import Run
from bot.engine.text import clean_input
from bot.engine.types import Alert, CustomerWrote, OwnerWrote, Start, Text
from bot.vocabulary import HANDOFF_BY_OWNER, AlertReason, EventType, LeadStatus, Waiting

#: Where the owner's message makes the bot step back (a finished lead's too: the bot would
#: otherwise answer the customer's next words while the owner is talking to them).
STEPS_BACK = frozenset({LeadStatus.ACTIVE, LeadStatus.COMPLETED})


def entry(run: Run, event: CustomerWrote) -> Start | Text:
    """The input a customer's message is to the funnel: its first one starts it."""
    st = run.state
    if st.started:
        return Text(event.text)
    words = clean_input(event.text)[0]
    if words:
        run.log(EventType.MESSAGE_RECEIVED, None, text=words, kind="entry")
    return Start(event.source, event.first_name, event.last_name, event.username, event.language)


def owner_wrote(run: Run, event: OwnerWrote) -> None:
    """The owner wrote in the chat: logged as a manager's message; the bot steps back."""
    st = run.state
    if not st.started:  # the owner opened the chat: the lead is theirs from the start
        st.started = True
        st.source = event.source
        for name in ("first_name", "last_name", "username"):
            if value := getattr(event, name):
                setattr(st, name, value)
        run.log(EventType.STARTED, None, source=event.source, by=event.by)
        step_back(run, event, alert=False)
        return
    run.log(EventType.MANAGER_MESSAGE, st.step, text=clean_input(event.text)[0], by=event.by)
    if st.status in STEPS_BACK:
        step_back(run, event, alert=True)


def step_back(run: Run, event: OwnerWrote, *, alert: bool) -> None:
    """Hand the lead to the owner: no timer, no half-typed answer, no pending look-up, and
    no "a manager will write to you" (the owner already is writing)."""
    st = run.state
    st.after_manager = LeadStatus.COMPLETED if st.status == LeadStatus.COMPLETED else ""
    st.status = LeadStatus.HANDED_OFF
    st.waiting = Waiting.MANAGER
    st.draft = ""
    st.asking = ""
    st.told_handed_off = True
    run.cancel_timers(EventType.HANDED_OFF)
    run.log(EventType.HANDED_OFF, st.step, reason=HANDOFF_BY_OWNER, by=event.by)
    if alert:
        note = clean_input(event.text)[0]
        run.actions.append(Alert(AlertReason.HANDOFF, st.step, note=f"{event.by}: {note}"))
