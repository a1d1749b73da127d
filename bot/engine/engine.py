"""The funnel engine: lead state + input -> new state + actions. Pure and synchronous.

The engine never talks to Telegram, the database or the model; it returns what should
happen and the service around it makes it so. That keeps every rule of the funnel in one
place, testable with plain values and a fixed clock.

The work is split by concern: ``run`` (the context every concern shares), ``dispatch``
(one handler per input), ``steps`` (one handler per step kind, as a table), ``interview``
(questions, contacts, consent), ``offers`` (lead magnets, offers, payments) and
``mailings`` (broadcast and win-back touches).
"""

from __future__ import annotations

from datetime import datetime

from bot.engine.dispatch import dispatch
from bot.engine.run import Run
from bot.engine.steps import STEP_HANDLERS
from bot.engine.types import CustomerWrote, Input, JoinRequest, LeadState, Outcome, Start
from bot.scenario.funnel import Funnel


class Engine:
    """Runs one scenario. Create a new one when the scenario changes."""

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.texts = funnel.scenario.texts

    def handle(self, state: LeadState, event: Input, now: datetime) -> Outcome:
        """React to one input. ``state`` is not modified; the outcome holds a new one.

        The lead reads the scenario in its language (``translations:``); an entry (``/start``,
        a join request, a customer's message in a business chat) carries the language before
        the state knows it, so the first reply is in it too.
        """
        entries = Start | JoinRequest | CustomerWrote
        language = event.language if isinstance(event, entries) else None
        funnel = self.funnel.for_language(language or state.language)
        run = Run(funnel, STEP_HANDLERS, state.copy(), now)
        dispatch(run, event)
        return Outcome(state=run.state, actions=run.actions, toast=run.toast)


__all__ = ["Engine"]
