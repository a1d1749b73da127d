"""One short human line per lead-log event, for timelines and exports.

The payload keys come from the engine's ``Log`` actions; unknown types or keys fall back to
``key=value`` pairs, so a new event type is never hidden, only described less nicely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.vocabulary import HANDOFF_BY_OWNER, EventType

MAX_TEXT = 80

Payload = Mapping[str, Any]


def short(value: object, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _money(p: Payload, key: str = "price") -> str:
    amount = p.get(key)
    return f"{amount} {p.get('currency', '')}".strip() if amount not in (None, "") else ""


def _offer(p: Payload) -> str:
    parts = [str(p.get("tier") or ""), f"«{p.get('title')}»" if p.get("title") else "", _money(p)]
    return " ".join(x for x in parts if x)


def _classified(p: Payload) -> str:
    text = f"→ {p.get('segment')}"
    extras = [f"confidence {p['confidence']}" if p.get("confidence") is not None else ""]
    extras += [str(p.get("readiness") or ""), str(p.get("path") or "")]
    extra = ", ".join(x for x in extras if x)
    text += f" ({extra})" if extra else ""
    if p.get("reason"):
        text += f": {short(p['reason'], 60)}"
    return text


def _day(value: object) -> str:
    """An ISO moment from a payload as its date (the rest of a subscription's end is noise)."""
    return str(value)[:10] if value else "?"


def _subscription(p: Payload) -> str:
    parts = [f"«{p.get('title')}»" if p.get("title") else "", _money(p, "amount")]
    return " ".join(x for x in parts if x) + f", paid until {_day(p.get('expires_at'))}"


def _churned(p: Payload) -> str:
    renewals = int(p.get("renewals") or 0)
    how = "renewal turned off" if p.get("canceled") else "no renewal"
    return f"«{p.get('title')}» ended {_day(p.get('expired_at'))}, {how}, {renewals} renewal(s)"


def _source(p: Payload) -> str:
    return f"from {p['source']}" if p.get("source") else "no source"


def _text(p: Payload) -> str:
    return f"“{short(p.get('text', ''))}”"


_DESCRIBE: dict[str, Callable[[Payload], str]] = {
    EventType.STARTED: _source,
    EventType.RESTARTED: lambda p: f"{_source(p)}, was {p.get('status')}",
    EventType.STEP_SENT: lambda p: f"{p.get('kind', 'message')} sent",
    EventType.QUESTION_ASKED: lambda p: f"asked {p.get('key')}",
    EventType.ANSWER_GIVEN: lambda p: (
        f"{p.get('key')} = “{short(p.get('value', ''))}” ({p.get('via')})"
    ),
    EventType.CONTACT_REQUESTED: lambda p: f"asked for {p.get('ask')}",
    EventType.CONTACT_SHARED: lambda p: f"{p.get('kind')}{' (typed)' if p.get('typed') else ''}",
    EventType.CLASSIFIED: _classified,
    EventType.STAGE_CHANGED: lambda p: f"{p.get('old')} → {p.get('new')}",
    EventType.LEAD_MAGNET_DELIVERED: lambda p: f"«{p.get('title')}»",
    EventType.LEAD_MAGNET_DECLINED: lambda p: f"«{p.get('title')}»",
    EventType.OFFER_SHOWN: _offer,
    EventType.OFFER_CLICKED: _offer,
    EventType.ORDER_PAID: lambda p: " ".join(
        x
        for x in (
            _money(p, "amount"),
            f"«{p['title']}»" if p.get("title") else "",
            str(p.get("tier") or ""),
            f"({p['kind']})" if p.get("kind") else "",
        )
        if x
    ),
    EventType.SUBSCRIPTION_STARTED: _subscription,
    EventType.SUBSCRIPTION_RENEWED: _subscription,
    EventType.SUBSCRIPTION_CANCELED: lambda p: (
        f"«{p.get('title')}» by {p.get('by')}, paid until {_day(p.get('until'))}"
    ),
    EventType.SUBSCRIPTION_CHURNED: _churned,
    EventType.BUTTON_PRESSED: lambda p: (
        f"“{p.get('text')}”" + (f" → {p['goto']}" if p.get("goto") else "")
    ),
    EventType.TOUCH_SCHEDULED: lambda p: f"due {p.get('due')}",
    EventType.REPLIED: _text,
    EventType.MESSAGE_RECEIVED: _text,
    EventType.MANAGER_MESSAGE: lambda p: f"{_text(p)} by {p['by']}" if p.get("by") else _text(p),
    EventType.NO_REPLY: lambda p: f"no reply in {p['waited']}" if p.get("waited") else "no reply",
    EventType.BRANCHED: lambda p: f"{p.get('on')} = {p.get('value')} → {p.get('goto')}",
    EventType.RELEASED: lambda p: f"by {p['by']}" if p.get("by") else "",
    EventType.TAKEN: lambda p: f"by {p['by']}" if p.get("by") else "",
    EventType.HANDED_OFF: lambda p: (
        f"the owner wrote in the business chat ({p.get('by')})"
        if p.get("reason") == HANDOFF_BY_OWNER
        else short(", ".join(f"{k}={v}" for k, v in p.items()))
    ),
    EventType.BUSINESS_DISCONNECTED: lambda p: f"connection {p.get('standing')}: nothing is sent",
    EventType.BUSINESS_CONNECTED: lambda p: "the connection may write again",
    EventType.BLOCKED: lambda p: short(p.get("reason", "")),
    EventType.ERROR: lambda p: short(p.get("reason", "")),
    EventType.INPUT_TRUNCATED: lambda p: f"{p.get('length')} characters",
    EventType.TIMER_IGNORED: lambda p: f"token {p.get('token')}",
    EventType.CLASSIFICATION_IGNORED: lambda p: f"→ {p.get('segment')}",
    "question": lambda p: (
        f"→ {p.get('entry') or 'no answer in the knowledge base'} ({p.get('path')})"
    ),
    EventType.HUMAN_REQUESTED: lambda p: f"{p.get('length')} characters",
}


def describe(type_: str, payload: Payload | None, tz: tzinfo = UTC) -> str:
    """A short description of one event's payload (may be empty); times shown in ``tz``."""
    p = payload or {}
    if type_ == EventType.TOUCH_SCHEDULED and isinstance(p.get("due"), str):
        try:
            due = datetime.fromisoformat(p["due"]).astimezone(tz)
        except ValueError:
            pass
        else:
            return f"due {due:%Y-%m-%d %H:%M}"
    describer = _DESCRIBE.get(type_)
    if describer is not None:
        try:
            return describer(p)
        except (KeyError, TypeError, ValueError):
            pass  # an odd payload from an older version: show it raw below
    return short(", ".join(f"{k}={v}" for k, v in p.items()))
