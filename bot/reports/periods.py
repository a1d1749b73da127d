"""Instants as managers read them: local wall-clock text, spreadsheet times, rough durations.

The parsing of time phrases (``--since 7d``, dates) lives in ``bot.time_phrases``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


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
