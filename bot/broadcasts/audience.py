"""Whom a mailing reaches, as operators type it: CLI options or ``key=value`` words in Telegram.

Both faces end here, so a filter means the same thing (and fails with the same one-line
message) whether it was typed in a terminal or sent to the bot by an admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml

from bot.broadcasts.service import BroadcastError
from bot.scenario.funnel import Funnel
from bot.time_phrases import PeriodError, parse_local_time, parse_moment
from bot.vocabulary import STAGES, STATUSES
from storage.broadcasts import Audience
from storage.criteria import NEVER, NONE_LABEL

#: ``business``: the chats of the operator's Telegram Business account.
CHANNELS = ("telegram", "business", "terminal")


@dataclass(slots=True)
class AudienceWords:
    """The filter as typed, before it is checked against the scenario."""

    segment: str | None = None
    stage: str | None = None
    status: str | None = None
    source: str | None = None
    channel: str | None = "telegram"
    stopped_at: list[str] = field(default_factory=list)
    idle_days: float | None = None
    variant: str | None = None  # STEP=VARIANT (or STEP:VARIANT)
    joined_after: str | None = None
    joined_before: str | None = None


def build_audience(words: AudienceWords, funnel: Funnel, now: datetime, tz: tzinfo) -> Audience:
    """Check every word against the scenario; ``BroadcastError`` names the first bad one."""
    scenario = funnel.scenario
    segment = words.segment
    if segment is not None and segment != NONE_LABEL and segment not in scenario.segments:
        have = ", ".join(scenario.segments)
        raise BroadcastError(f"segment: no segment '{segment}' (have: {have})")
    if words.stage is not None and words.stage not in STAGES:
        raise BroadcastError(f"stage: '{words.stage}' is not one of {', '.join(STAGES)}")
    if words.status is not None:
        if words.status in NEVER:
            raise BroadcastError(f"status: a mailing never reaches {words.status} leads")
        if words.status not in STATUSES:
            raise BroadcastError(f"status: '{words.status}' is not one of active, completed")
    if words.channel is not None and words.channel not in CHANNELS:
        raise BroadcastError(f"channel: '{words.channel}' is not one of {', '.join(CHANNELS)}")
    for step in words.stopped_at:
        if step not in funnel.steps:
            raise BroadcastError(f"stopped-at: no step '{step}' in the scenario")
    if words.idle_days is not None and words.idle_days < 0:
        raise BroadcastError("idle-days: must be 0 or more")
    try:
        after = parse_moment(words.joined_after, now, tz) if words.joined_after else None
        before = (
            parse_moment(words.joined_before, now, tz, end=True) if words.joined_before else None
        )
    except PeriodError as exc:
        raise BroadcastError(f"joined: {exc}") from None
    if after is not None and before is not None and after >= before:
        raise BroadcastError("joined-after must be before joined-before")
    return Audience(
        segment=words.segment,
        stage=words.stage,
        status=words.status,
        source=words.source,
        channel=words.channel,
        joined_after=after,
        joined_before=before,
        stopped_at=tuple(dict.fromkeys(words.stopped_at)),
        idle_days=words.idle_days,
        variant=parse_variant(words.variant, funnel) if words.variant else None,
    )


def parse_variant(text: str, funnel: Funnel) -> tuple[str, str]:
    step, sep, variant = text.replace(":", "=", 1).partition("=")
    step, variant = step.strip(), variant.strip()
    if not sep or not step or not variant:
        raise BroadcastError(f"variant: '{text}' should be STEP=VARIANT, e.g. hot_offer=B")
    if step not in funnel.steps:
        raise BroadcastError(f"variant: no step '{step}' in the scenario")
    return step, variant


def parse_at(text: str, now: datetime, tz: tzinfo) -> datetime:
    """``2026-12-01 10:00`` (in TIMEZONE) or a date (its midnight): when a mailing starts."""
    try:
        moment = parse_local_time(text, tz)
    except PeriodError as exc:
        raise BroadcastError(f"at: {exc}") from None
    if moment < now:
        raise BroadcastError(f"at: {text.strip()} is in the past")
    return moment


def load_message(path: Path) -> dict[str, Any]:
    """A message file in the scenario's message-step format (message/image/document/buttons)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BroadcastError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BroadcastError(f"{path}{where}: not valid YAML") from None
    if isinstance(data, str):
        data = {"message": data}
    if not isinstance(data, dict):
        raise BroadcastError(f"{path}: expected a mapping with 'message' (and image, buttons…)")
    return data


def describe(audience: Audience | dict[str, Any]) -> str:
    """The filter in one line, for previews and listings (a stored one too)."""
    stored = audience if isinstance(audience, dict) else audience.as_dict()
    parts = [f"{k.replace('_', '-')}={_word(v)}" for k, v in stored.items()]
    return " ".join(parts) or "everyone"


def _word(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, str) and "T" in value and value[:4].isdigit():
        return value[:16].replace("T", " ")
    return str(value)


# --- key=value words (the Telegram command) ---------------------------------------------

KEYS = {
    "segment": "segment",
    "stage": "stage",
    "status": "status",
    "source": "source",
    "channel": "channel",
    "stopped_at": "stopped_at",
    "stopped": "stopped_at",
    "idle_days": "idle_days",
    "idle": "idle_days",
    "variant": "variant",
    "joined_after": "joined_after",
    "since": "joined_after",
    "joined_before": "joined_before",
    "until": "joined_before",
}
EXTRA_KEYS = ("chain", "name", "at", "button", "paid", "stars_cap", "rate")
_YES, _NO = {"yes", "y", "on", "true", "1", "да"}, {"no", "n", "off", "false", "0", "нет"}


@dataclass(slots=True)
class Request:
    """``/broadcast`` words: the audience, and optionally the chain, name, time and buttons."""

    audience: AudienceWords = field(default_factory=AudienceWords)
    chain: str | None = None
    name: str | None = None
    at: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    paid: bool = False  # Telegram's paid broadcast, within ``stars_cap``, at ``rate``
    stars_cap: str | None = None
    rate: str | None = None


def parse_words(words: Iterable[str]) -> Request:
    """``segment=hot stopped-at=hot_offer idle=3 chain=comeback`` -> a ``Request``."""
    request = Request()
    target = request.audience
    for word in words:
        key, sep, value = word.partition("=")
        key = key.strip().lower().replace("-", "_")
        value = value.strip()
        if not sep or not value:
            raise BroadcastError(f"'{word}': filters are key=value, e.g. segment=hot")
        if key in EXTRA_KEYS:
            if key == "button":
                request.buttons.append(_button(value))
            elif key == "paid":
                request.paid = _yes(value)
            else:
                setattr(request, key, value)
            continue
        name = KEYS.get(key)
        if name is None:
            known = ", ".join(sorted({*KEYS.values(), *EXTRA_KEYS}))
            raise BroadcastError(f"unknown filter '{key}' (use {known})")
        if name == "stopped_at":
            target.stopped_at += [s for s in value.split(",") if s]
        elif name == "idle_days":
            target.idle_days = _days(value)
        else:
            setattr(target, name, value)
    return request


def _yes(value: str) -> bool:
    word = value.lower()
    if word not in _YES | _NO:
        raise BroadcastError(f"paid: '{value}' should be yes or no")
    return word in _YES


def _days(value: str) -> float:
    try:
        return float(value.lower().removesuffix("d"))
    except ValueError:
        raise BroadcastError(f"idle: '{value}' is not a number of days") from None


def _button(value: str) -> dict[str, str]:
    text, sep, target = value.rpartition(":")
    if not sep or not text.strip() or not target.strip():
        raise BroadcastError(f"button: '{value}' should be Text:step (or Text:https://…)")
    target = target.strip()
    if target.startswith("//"):  # "Site:https://x" was split inside the URL
        text, _, scheme = text.rpartition(":")
        target = f"{scheme}:{target}"
    key = "url" if "://" in target else "goto"
    return {"text": text.strip(), key: target}
