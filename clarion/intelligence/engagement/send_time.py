"""Send time: each person's usual reading hour, from the local hours of their reads.

The hour with the most reads after smoothing over its neighbours (weights 1, 2, 1 over a circular ±1 h);
None with fewer than ``min_reads`` reads.  The policy stage would hold a non-urgent delivery
until that hour within the same day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import EngagementLog


@dataclass
class UsualHours:
    people: dict[str, int]
    hour: Any        # int[people]; -1 when not known
    reads: Any       # int[people]

    def usual_hour(self, person_id: str) -> int | None:
        row = self.people.get(person_id)
        if row is None or self.hour[row] < 0:
            return None
        return int(self.hour[row])


def fit_usual_hours(log: EngagementLog, min_reads: int = 5) -> UsualHours:
    import numpy as np

    read = log.read
    people = len(log.people)
    cells = log.person[read].astype(np.int64) * 24 + log.hour[read]
    counts = np.bincount(cells, minlength=people * 24).reshape(people, 24)
    smoothed = 2 * counts + np.roll(counts, 1, axis=1) + np.roll(counts, -1, axis=1)
    reads = counts.sum(axis=1)
    hour = np.where(reads >= min_reads, smoothed.argmax(axis=1), -1)
    return UsualHours({p: i for i, p in enumerate(log.people)}, hour, reads)


def global_usual_hour(log: EngagementLog) -> int:
    """The baseline: the hour at which most reads happen, for everyone."""
    import numpy as np

    return int(np.bincount(log.hour[log.read].astype(np.int64), minlength=24).argmax())
