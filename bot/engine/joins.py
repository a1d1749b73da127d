"""Requests to join the operator's channel or group: when the funnel approves or declines.

A request is an entry to the funnel like ``/start`` (``dispatch.on_join_request``); the
scenario's ``join_requests.approve`` says when the bot lets the person in: at once, once the
interview is done, once consent is given (a refusal declines), or never. The decision is an
action (``DecideJoin``) the face carries out, as the engine cannot call Telegram.
"""

from __future__ import annotations

from bot.engine.run import Run
from bot.engine.types import DecideJoin
from bot.vocabulary import Consent, EventType


def decide(run: Run, approve: bool) -> None:
    """Approve or decline the lead's pending request (once: the request is then settled)."""
    st = run.state
    if st.join_chat is None:
        return
    run.actions.append(DecideJoin(st.join_chat, approve))
    event = EventType.JOIN_APPROVED if approve else EventType.JOIN_DECLINED
    run.log(event, st.step, chat=st.join_chat)
    st.join_chat = None


def settle(run: Run, moment: str, approve: bool = True) -> None:
    """A moment of the funnel passed (``after_interview``, ``after_consent``): decide the
    pending request if the scenario waits for that moment."""
    if run.funnel.scenario.join_requests.approve == moment:
        decide(run, approve)


def requested(run: Run, chat: str, source: str | None) -> None:
    """Note the request, and decide it now when the scenario (or the lead's past) allows."""
    st = run.state
    run.log(EventType.JOIN_REQUESTED, st.step, chat=chat, source=source)
    st.join_chat = chat
    policy = run.funnel.scenario.join_requests.approve
    if policy in {"at_once", "decline"}:
        decide(run, policy == "at_once")
    elif policy == "after_interview" and st.segment is not None:
        decide(run, True)  # interviewed before (came back through another link)
    elif policy == "after_consent" and st.consent is not None:
        decide(run, st.consent == Consent.GIVEN)
