"""One short human line per lead-log event, for timelines and exports.

The payload keys come from the engine's ``Log`` actions; unknown types or keys fall back to
``key=value`` pairs, so a new event type is never hidden, only described less nicely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

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


def _source(p: Payload) -> str:
    return f"from {p['source']}" if p.get("source") else "no source"


def _text(p: Payload) -> str:
    return f"“{short(p.get('text', ''))}”"


_DESCRIBE: dict[str, Callable[[Payload], str]] = {
    "started": _source,
    "restarted": lambda p: f"{_source(p)}, was {p.get('status')}",
    "step_sent": lambda p: f"{p.get('kind', 'message')} sent",
    "question_asked": lambda p: f"asked {p.get('key')}",
    "answer_given": lambda p: f"{p.get('key')} = “{short(p.get('value', ''))}” ({p.get('via')})",
    "contact_requested": lambda p: f"asked for {p.get('ask')}",
    "contact_shared": lambda p: f"{p.get('kind')}{' (typed)' if p.get('typed') else ''}",
    "classified": _classified,
    "stage_changed": lambda p: f"{p.get('old')} → {p.get('new')}",
    "lead_magnet_delivered": lambda p: f"«{p.get('title')}»",
    "lead_magnet_declined": lambda p: f"«{p.get('title')}»",
    "offer_shown": _offer,
    "offer_clicked": _offer,
    "order_paid": lambda p: " ".join(
        x
        for x in (
            _money(p, "amount"),
            f"«{p['title']}»" if p.get("title") else "",
            str(p.get("tier") or ""),
        )
        if x
    ),
    "button_pressed": lambda p: f"“{p.get('text')}”" + (f" → {p['goto']}" if p.get("goto") else ""),
    "touch_scheduled": lambda p: f"due {p.get('due')}",
    "replied": _text,
    "message_received": _text,
    "manager_message": lambda p: f"{_text(p)} by {p['by']}" if p.get("by") else _text(p),
    "no_reply": lambda p: f"no reply in {p['waited']}" if p.get("waited") else "no reply",
    "branched": lambda p: f"{p.get('on')} = {p.get('value')} → {p.get('goto')}",
    "released": lambda p: f"by {p['by']}" if p.get("by") else "",
    "taken": lambda p: f"by {p['by']}" if p.get("by") else "",
    "blocked": lambda p: short(p.get("reason", "")),
    "error": lambda p: short(p.get("reason", "")),
    "input_truncated": lambda p: f"{p.get('length')} characters",
    "timer_ignored": lambda p: f"token {p.get('token')}",
    "classification_ignored": lambda p: f"→ {p.get('segment')}",
    "question": lambda p: (
        f"→ {p.get('entry') or 'no answer in the knowledge base'} ({p.get('path')})"
    ),
    "human_requested": lambda p: f"{p.get('length')} characters",
}


def describe(type_: str, payload: Payload | None, tz: tzinfo = UTC) -> str:
    """A short description of one event's payload (may be empty); times shown in ``tz``."""
    p = payload or {}
    if type_ == "touch_scheduled" and isinstance(p.get("due"), str):
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
