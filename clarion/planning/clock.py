"""What time policy thinks it is: the system clock, or one a test or a drill sets.

Every planning decision (quiet hours, caps, dedup windows, digests, releases) reads the time
through ``now()``, so a test moves the clock on instead of sleeping.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that stands still until it is set or moved on."""

    def __init__(self, at: datetime):
        self.at = _aware(at)

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = _aware(at)

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Within the block, planning reads ``clock``."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous
