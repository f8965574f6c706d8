"""Each person's profile, learned from what they read: the order of the channels they read
fastest, the local hour they usually read at, their interest per category (and how many of
each category's deliveries they got and read, for the console's segment figures).

Learned by the weekly retrain-models flow from the site's engagement history (deliveries
that reached people who have not opted out of profiling, and their reads and clicks); read
by the policy stage (clarion.planning.policy: channel order for routing mode ``first``, send
time for categories that allow it) and the inbox (``order=for_you``).  Critical categories
are never held, reordered or hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..intelligence.engagement.events import EngagementLog, LogBuilder
from ..store import engagement as sql
from ..store import policy as policy_sql
from ..store.db import Store

WINDOW = timedelta(days=90)
RETENTION = timedelta(days=180)
MIN_READS_FOR_INTERESTS = 20  # fewer reads in all: no interest model (too little to learn)


@dataclass
class ProfileReport:
    people: int = 0
    events: int = 0
    pruned: int = 0
    seconds: float = 0.0
    load_s: float = 0.0   # reading the history from the database into a columnar log
    fit_s: float = 0.0    # channel times, usual hours, interests, each person's profile
    save_s: float = 0.0   # writing the profiles


def history_log(store: Store, since: datetime) -> EngagementLog:
    """The site's history since ``since`` as a columnar log, read from the store a chunk of
    columns at a time."""
    log = LogBuilder()
    for columns in sql.history_chunks(store, since):
        log.add(*columns)
    return log.build()


def _interests(log: EngagementLog) -> dict[str, dict[str, float]]:
    """Per person, a score per category (ALS over person × category reads)."""
    if int(log.read.sum()) < MIN_READS_FOR_INTERESTS or len(log.topics) < 2:
        return {}
    from ..intelligence.engagement.interests import learned_interests
    return learned_interests(log)


def profiles_from(log: EngagementLog) -> list[dict[str, Any]]:
    from ..intelligence.engagement.channel_order import fit_channel_times
    from ..intelligence.engagement.segments import person_reads
    from ..intelligence.engagement.send_time import fit_usual_hours
    import numpy as np
    times, hours, interests = fit_channel_times(log), fit_usual_hours(log), _interests(log)
    counts, reads = np.bincount(log.person, minlength=len(log.people)), person_reads(log)
    return [{"recipient_id": p, "channel_order": times.order(p, log.channels),
             "usual_hour": hours.usual_hour(p), "interests": interests.get(p),
             "reads": reads[p], "events": int(counts[i])} for i, p in enumerate(log.people)]


def learn(store: Store, now: datetime) -> ProfileReport:
    """Learn every profiled person's profile from the last ``WINDOW``; prune old events."""
    watch = _Stopwatch()
    log = history_log(store, now - WINDOW)
    report = ProfileReport(events=len(log), load_s=watch.lap())
    if len(log):
        profiles = profiles_from(log)
        report.fit_s = watch.lap()
        sql.put_profiles(store, profiles)
        report.save_s = watch.lap()
        report.people = len(profiles)
    report.pruned = sql.prune(store, now - RETENTION)
    report.seconds = round(watch.lap() + report.load_s + report.fit_s + report.save_s, 2)
    return report


class _Stopwatch:
    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self) -> float:
        """Seconds since the last lap (or the start), rounded to 0.01."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        return round(seconds, 2)


def inbox_ranks(store: Store, recipient_id: str) -> tuple[dict[str, int], int] | None:
    """How the inbox's ``for_you`` order ranks this reader's categories (lowest first), and
    the rank of a category they have no learned interest in; None when they opted out of
    profiling (their inbox keeps the default order)."""
    if not sql.profiling_of(store, recipient_id):
        return None
    profile = sql.page_profiles(store, [recipient_id]).get(recipient_id) or {}
    critical = {name for name, c in policy_sql.categories(store).items() if c["critical"]}
    return ranks_by_interest(profile.get("interests") or {}, critical)


def ranks_by_interest(interests: dict[str, float], critical: set[str]
                      ) -> tuple[dict[str, int], int]:
    """Critical categories rank 0 (always first, whatever the interest); the others 1, 2 …
    by interest, highest first (equal interest, equal rank); those without one come last."""
    scores = sorted({s for c, s in interests.items() if c not in critical}, reverse=True)
    place = {s: i + 1 for i, s in enumerate(scores)}
    ranks = {c: place[s] for c, s in interests.items() if c not in critical}
    ranks.update(dict.fromkeys(critical, 0))
    return ranks, len(scores) + 1
