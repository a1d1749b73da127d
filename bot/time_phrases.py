"""The one grammar of time phrases, for scenarios and every command option alike.

A span is one or more ``<number><unit>`` parts (``30s``, ``10m``, ``2h``, ``1d 12h``, ``2w``);
a wait is a span or a clock phrase (``at 18:30``, ``next day at 10:00``, ``in 2 days at 9:00``);
a moment (``--since``, ``--until``, ``joined-after``) is a date, ``today``, ``yesterday`` or a
span counted back from now; a start time is ``2026-12-01 10:00`` in the configured zone.
Written once so ``--window 30m`` and ``--since 30m`` accept the same words. Nothing here reads
the clock: callers pass "now".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SPAN_WORDS = "30s, 10m, 2h, 1d, 2w or '1d 12h'"
_PART = re.compile(r"(\d+)\s*([smhdw])")
_SPAN = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_CLOCK = re.compile(
    r"^\s*(?:(?P<days>next day|in (?P<n>\d+) days?)\s+)?at\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$"
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2})?)?$")


class PeriodError(ValueError):
    """A time phrase that does not parse; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A pause: either a fixed span, or a wall-clock time some days ahead."""

    span: timedelta | None = None
    at: time | None = None
    days_ahead: int = 0

    def due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """When a wait started at ``now`` ends (``now`` must be aware)."""
        if self.span is not None:
            return now + self.span
        assert self.at is not None
        local = now.astimezone(tz)
        target = datetime.combine(local.date() + timedelta(days=self.days_ahead), self.at, tz)
        if self.days_ahead == 0 and target <= local:
            target += timedelta(days=1)
        return target

    def __str__(self) -> str:
        if self.span is not None:
            return format_span(self.span)
        assert self.at is not None
        clock = self.at.strftime("%H:%M")
        if self.days_ahead == 0:
            return f"at {clock}"
        if self.days_ahead == 1:
            return f"next day at {clock}"
        return f"in {self.days_ahead} days at {clock}"


def format_span(span: timedelta) -> str:
    """``timedelta(days=1, hours=12)`` -> ``1d 12h`` (the grammar read back)."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"


def _span_or_none(text: str) -> timedelta | None:
    raw = text.strip().lower()
    if not _SPAN.match(raw):
        return None
    return timedelta(seconds=sum(int(n) * UNIT_SECONDS[u] for n, u in _PART.findall(raw)))


def parse_wait(text: str) -> Wait:
    """A wait expression; ``PeriodError`` (a ``ValueError``) with a readable reason otherwise."""
    span = _span_or_none(text)
    if span is not None:
        if span <= timedelta(0):
            raise PeriodError(f"{text!r} is a zero wait")
        return Wait(span=span)
    match = _CLOCK.match(text.strip().lower())
    if match:
        hh, mm = int(match["hh"]), int(match["mm"])
        if hh > 23 or mm > 59:
            raise PeriodError(f"{text!r} is not a time of day")
        days = 0
        if match["days"] == "next day":
            days = 1
        elif match["n"]:
            days = int(match["n"])
        return Wait(at=time(hh, mm), days_ahead=days)
    raise PeriodError(
        f"{text!r} is not a duration (use 30s, 10m, 2h, 1d, '1d 12h' or 'next day at 10:00')"
    )


def parse_span(text: str) -> timedelta:
    """A plain span such as ``3s`` or ``2d`` (no clock times)."""
    wait = parse_wait(text)
    if wait.span is None:
        raise PeriodError(f"{text!r} must be a span such as 30s, 10m, 2h or 1d, not a time of day")
    return wait.span


def parse_clock(text: object) -> time:
    """``HH:MM`` for sending windows."""
    if not isinstance(text, str):
        raise PeriodError(f'{text!r} is not a time of day (use HH:MM in quotes, e.g. "09:00")')
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise PeriodError(f"{text!r} is not a time of day (use HH:MM)")
    return time(int(match[1]), int(match[2]))


def parse_moment(text: str, now: datetime, tz: tzinfo, *, end: bool = False) -> datetime:
    """``2026-03-01``, ``today``, ``yesterday`` or a span ago (``30m``, ``7d``) -> an instant.

    Managers think in their own calendar days, so a date means midnight in ``tz``; a date
    given as an end (``--until``) includes that whole day.
    """
    span = _span_or_none(text)
    if span is not None:
        return now - span
    word = text.strip().lower()
    today = now.astimezone(tz).date()
    if word in {"today", "yesterday"}:
        day = today if word == "today" else today - timedelta(days=1)
    else:
        try:
            day = date.fromisoformat(word)
        except ValueError:
            raise PeriodError(
                f"{text!r} is not a date: use YYYY-MM-DD, today, yesterday, or a span ago"
                f" such as 30m / 12h / 7d / 2w"
            ) from None
    return day_start(day + timedelta(days=1) if end else day, tz)


def parse_local_time(text: str, tz: tzinfo) -> datetime:
    """``2026-12-01 10:00`` (wall-clock in ``tz``) or a date (its midnight) -> an instant."""
    word = text.strip()
    if not _DATETIME.match(word):
        raise PeriodError(f"'{text}' should look like 2026-12-01 10:00")
    try:
        moment = datetime.fromisoformat(word)
    except ValueError:
        raise PeriodError(f"'{text}' is not a real date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)
