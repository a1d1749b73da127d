"""Wait expressions of the scenario language: ``30s``, ``10m``, ``2h``, ``1d``, ``1d 12h``,
``next day at 10:00``, ``at 18:30``.

A wait is kept as a small value object so the engine can turn it into a due time for any
"now" and time zone; nothing here reads the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_RELATIVE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_CLOCK = re.compile(
    r"^\s*(?:(?P<days>next day|in (?P<n>\d+) days?)\s+)?at\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$"
)


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
            return _format_span(self.span)
        assert self.at is not None
        clock = self.at.strftime("%H:%M")
        if self.days_ahead == 0:
            return f"at {clock}"
        if self.days_ahead == 1:
            return f"next day at {clock}"
        return f"in {self.days_ahead} days at {clock}"


def _format_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"


def parse_wait(text: str) -> Wait:
    """Parse a wait expression; raise ``ValueError`` with a readable reason otherwise."""
    raw = text.strip().lower()
    if _RELATIVE.match(raw):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(raw))
        if seconds <= 0:
            raise ValueError(f"{text!r} is a zero wait")
        return Wait(span=timedelta(seconds=seconds))
    match = _CLOCK.match(raw)
    if match:
        hh, mm = int(match["hh"]), int(match["mm"])
        if hh > 23 or mm > 59:
            raise ValueError(f"{text!r} is not a time of day")
        days = 0
        if match["days"] == "next day":
            days = 1
        elif match["n"]:
            days = int(match["n"])
        return Wait(at=time(hh, mm), days_ahead=days)
    raise ValueError(
        f"{text!r} is not a duration (use 30s, 10m, 2h, 1d, '1d 12h' or 'next day at 10:00')"
    )


def parse_span(text: str) -> timedelta:
    """A plain span such as ``3s`` or ``2d`` (no clock times)."""
    wait = parse_wait(text)
    if wait.span is None:
        raise ValueError(f"{text!r} must be a span such as 30s, 10m, 2h or 1d, not a time of day")
    return wait.span


def parse_clock(text: object) -> time:
    """``HH:MM`` for sending windows."""
    if not isinstance(text, str):
        raise ValueError(f'{text!r} is not a time of day (use HH:MM in quotes, e.g. "09:00")')
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time of day (use HH:MM)")
    return time(int(match[1]), int(match[2]))
