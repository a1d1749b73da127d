"""Turning ``--since``/``--until`` words into UTC instants, and instants into local text.

Managers think in their own calendar days, so a date means midnight in the configured time
zone; a relative span (``7d``, ``12h``, ``2w``) counts back from now.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

_SPAN = re.compile(r"^(\d{1,5})\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class PeriodError(ValueError):
    """A period word that is neither a date nor a span; the message says what is accepted."""


def parse_moment(text: str, now: datetime, tz: tzinfo, *, end: bool = False) -> datetime:
    """``2026-03-01``, ``today``, ``yesterday`` or ``7d``/``12h``/``2w`` -> an aware instant.

    A date given as an end (``--until``) includes that whole day.
    """
    word = text.strip().lower()
    if match := _SPAN.match(word):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    today = now.astimezone(tz).date()
    if word in {"today", "yesterday"}:
        day = today if word == "today" else today - timedelta(days=1)
    else:
        try:
            day = date.fromisoformat(word)
        except ValueError:
            raise PeriodError(
                f"{text!r} is not a date: use YYYY-MM-DD, today, yesterday, or 12h / 7d / 2w"
            ) from None
    return day_start(day + timedelta(days=1) if end else day, tz)


def day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def local(moment: datetime | None, tz: tzinfo, seconds: bool = False) -> str:
    """An instant as the manager's wall-clock time (empty when unknown)."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def naive_local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """For spreadsheets, which cannot hold a time zone: wall-clock time without one."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def idle(span: timedelta) -> str:
    """A rough duration for people: ``3d 4h``, ``5h 10m``, ``12m``."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"
