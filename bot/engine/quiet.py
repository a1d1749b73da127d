"""Quiet hours: scheduled touches go out only inside the scenario's sending window."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def inside(moment: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight, e.g. 21:00–02:00


def hold(moment: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    """``moment`` if it is inside the window, else the next time the window opens."""
    if start == end or inside(moment, start, end, tz):
        return moment
    local = moment.astimezone(tz)
    opening = datetime.combine(local.date(), start, tz)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), start, tz)
    return opening.astimezone(moment.tzinfo)
