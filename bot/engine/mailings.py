"""Mailings: a broadcast or win-back touch reaching one lead, and presses on its buttons.

A one-off broadcast message is not a scenario step, so its buttons are remembered by
the message (``LeadState.broadcast_buttons``) under the step id ``@b<broadcast id>``.
"""

from __future__ import annotations

from bot.engine.run import Run
from bot.engine.types import Broadcast
from bot.vocabulary import BROADCAST_PREFIX, EventType, LeadStatus, broadcast_step


def is_broadcast_step(step_id: str | None) -> bool:
    return step_id is not None and step_id.startswith(BROADCAST_PREFIX)


def broadcast(run: Run, event: Broadcast) -> None:
    st = run.state
    if st.status not in {LeadStatus.ACTIVE, LeadStatus.COMPLETED}:
        run.log(
            EventType.BROADCAST_SKIPPED, st.step, broadcast=event.broadcast_id, status=st.status
        )
        return
    run.priority = "touch"
    run.log(EventType.BROADCAST_SENT, st.step, broadcast=event.broadcast_id, chain=event.chain)
    if event.chain is not None:
        chain = run.funnel.chains.get(event.chain) or []
        if not chain:
            run.log(EventType.ERROR, st.step, reason=f"no chain {event.chain}")
            return
        run.cancel_timers("broadcast")
        st.status = LeadStatus.ACTIVE
        run.run(chain[0])
        return
    message = event.message
    assert message is not None
    step_id = broadcast_step(event.broadcast_id)
    buttons = run.buttons_for(step_id, [(b.text, b.url) for b in message.buttons])
    if any(b.data for row in buttons for b in row):
        st.broadcast_buttons[str(st.seq)] = [b.goto for b in message.buttons]
    run.say(
        message.message,
        step_id,
        buttons=buttons,
        image=message.image,
        document=message.document,
    )


def broadcast_press(run: Run, seq: str, step_id: str, index: int) -> None:
    st = run.state
    targets = st.broadcast_buttons.get(seq) or []
    broadcast_id = int(step_id.removeprefix(BROADCAST_PREFIX))
    if st.status in {LeadStatus.UNSUBSCRIBED, LeadStatus.HANDED_OFF} or not (
        0 <= index < len(targets)
    ):
        run.toast = run.texts.not_current
        return
    del st.live[seq]
    st.broadcast_buttons.pop(seq, None)
    goto = targets[index]
    run.log(EventType.BUTTON_PRESSED, st.step, broadcast=broadcast_id, goto=goto)
    if goto and run.funnel.get(goto) is not None:
        run.cancel_timers("button")
        st.status = LeadStatus.ACTIVE
        sent = len(run.actions)
        run.run(goto)
        run.acknowledge(sent)
