"""Quiet hours: a daily window of local time (``22:00-07:30``) in which nothing non-urgent
is delivered; a delivery that would land in it waits for the window to end, in the
recipient's own time zone, daylight-saving correct."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError when there is none of that name."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Asia/Shanghai)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Asia/Shanghai)") from None


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``HH:MM-HH:MM``, local time; the window may run past midnight."""
        m = _WINDOW.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"{text!r} is not a window like 22:00-07:30")
        start, end = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
        if start == end:
            raise ValueError(f"{text!r} starts and ends at the same time")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_after(self, moment: datetime, tz: ZoneInfo) -> datetime | None:
        """When a delivery due at ``moment`` may go to someone in ``tz``: None if at once,
        else the instant (UTC) the window ends."""
        local = moment.astimezone(tz)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        ends_today = self.start < self.end or local.time() < self.end
        day = local.date() if ends_today else local.date() + timedelta(days=1)
        return first_instant_at(day, self.end, tz)


def first_instant_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``tz`` reads ``at`` or later on
    ``day``: the earlier one of a repeated hour, the end of a skipped one."""
    wall = datetime.combine(day, at)
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # ``at`` falls in a gap (clocks jumped forward): the gap ends at the transition
    early = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    low, high = min(early, instant), max(early, instant)
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)  # transitions fall on whole seconds
