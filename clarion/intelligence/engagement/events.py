"""Engagement events, one per delivery, and a columnar log of them for fast aggregation.

A delivery's event carries when it was sent and when (if ever) it was read, and the reader's
local hour at reading.  Nothing about the content is kept: a category and an optional tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class EngagementEvent:
    person_id: str
    item_id: str             # the delivery (or the notice) it is about
    category: str
    channel: str
    sent_at: float           # POSIX seconds
    read_at: float | None    # None: not read (yet)
    local_hour: int | None   # the reader's local hour when read
    tag: str | None = None   # a finer topic than the category, if the site has one


@dataclass
class EngagementLog:
    """Columns of equal length; people, channels and topics as integer codes."""

    people: list[str]
    channels: list[str]
    topics: list[str]        # "category" or "category/tag"
    person: Any              # int32[n]
    channel: Any             # int16[n]
    topic: Any               # int32[n]
    sent_at: Any             # float64[n]
    delay: Any               # float64[n] seconds from sent to read; NaN when not read
    hour: Any                # int8[n] local hour of reading; -1 when not read

    def __len__(self) -> int:
        return int(self.person.shape[0])

    @property
    def read(self) -> Any:
        import numpy as np
        return ~np.isnan(self.delay)

    def subset(self, mask: Any) -> "EngagementLog":
        return EngagementLog(self.people, self.channels, self.topics, self.person[mask],
                             self.channel[mask], self.topic[mask], self.sent_at[mask],
                             self.delay[mask], self.hour[mask])

    @classmethod
    def from_events(cls, events: Iterable[EngagementEvent]) -> "EngagementLog":
        import numpy as np

        rows = list(events)
        people, person = _codes([e.person_id for e in rows])
        channels, channel = _codes([e.channel for e in rows])
        topics, topic = _codes([topic_of(e) for e in rows])
        delay = [np.nan if e.read_at is None else max(0.0, e.read_at - e.sent_at) for e in rows]
        hour = [-1 if e.local_hour is None or e.read_at is None else e.local_hour for e in rows]
        return cls(people, channels, topics, np.array(person, dtype=np.int32),
                   np.array(channel, dtype=np.int16), np.array(topic, dtype=np.int32),
                   np.array([e.sent_at for e in rows], dtype=np.float64),
                   np.array(delay, dtype=np.float64), np.array(hour, dtype=np.int8))


class LogBuilder:
    """A log made from chunks of columns (times in POSIX seconds; read at None: not read), as
    the store reads the site's history: each chunk becomes codes and arrays at once."""

    def __init__(self) -> None:
        self._codes: tuple[dict[str, int], ...] = ({}, {}, {})  # people, channels, topics
        self._parts: list[tuple[Any, ...]] = []

    def add(self, person_ids: Sequence[str], categories: Sequence[str],
            channels: Sequence[str], sent_at: Sequence[float],
            read_at: Sequence[float | None], hour: Sequence[int | None]) -> "LogBuilder":
        import numpy as np

        people, channel_codes, topics = self._codes
        sent = np.asarray(sent_at, dtype=np.float64)
        delay = np.maximum(np.array(read_at, dtype=np.float64) - sent, 0.0)  # None → NaN
        hours = np.array(hour, dtype=np.float64)
        self._parts.append((
            np.array([people.setdefault(p, len(people)) for p in person_ids], dtype=np.int32),
            np.array([channel_codes.setdefault(c, len(channel_codes)) for c in channels],
                     dtype=np.int16),
            np.array([topics.setdefault(t, len(topics)) for t in categories], dtype=np.int32),
            sent, delay, np.where(np.isnan(delay) | np.isnan(hours), -1, hours).astype(np.int8)))
        return self

    def build(self) -> EngagementLog:
        import numpy as np

        columns = [np.concatenate(c) for c in zip(*self._parts)] if self._parts else \
            [np.zeros(0, dtype=t) for t in (np.int32, np.int16, np.int32, np.float64,
                                            np.float64, np.int8)]
        return EngagementLog(*(list(codes) for codes in self._codes), *columns)


def topic_of(event: EngagementEvent) -> str:
    return f"{event.category}/{event.tag}" if event.tag else event.category


def _codes(values: Sequence[str]) -> tuple[list[str], list[int]]:
    index: dict[str, int] = {}
    codes = [index.setdefault(v, len(index)) for v in values]
    return list(index), codes
