"""Which audience segments engage with a category: the figures staff see where they compose.

The retrain keeps in each person's profile how many deliveries of each category reached them
and how many they read (``person_reads``).  The store adds those up per segment
(``clarion.store.segment_engagement``), with the segment's mean learned interest (the ALS
score of its profiled people); ``rank_segments`` ranks the rows.  Segments are
ranked by their **read rate**, shrunk toward everyone's rate by ``PRIOR`` deliveries (so a
small segment with a lucky week does not top the list); those with too little measured data
follow, ranked by their learned interest; then those with too little of either.

Why the read rate leads and the learned interest only follows: over the site's categories
the ALS score is close to "has read this category at all" (few categories, as many factors),
and on the simulated site it tracked the segments' true preference far less well than their
read rates did (docs/INTELLIGENCE.md).  Below ``MIN_PEOPLE`` people nothing of a segment is
shown but its size: a figure of two or three people would tell what each of them reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

MIN_PEOPLE = 5         # fewer people: too little data, and nothing of them shown
MIN_DELIVERIES = 30    # fewer deliveries: no read rate (too little data)
PRIOR = 30             # pseudo-deliveries at everyone's rate in each segment's shrunk rate


@dataclass(frozen=True)
class SegmentFigures:
    kind: str                  # role, department, grade (or everyone)
    segment: str
    people: int                # people the category's deliveries reached
    deliveries: int
    reads: int | None          # None: too little data (not shown)
    read_rate: float | None    # None: too little data
    lift: float | None         # read rate over everyone's
    scored: int                # profiled people with a learned interest
    interest: float | None     # their mean learned interest; None: too little data

    @property
    def measured(self) -> bool:
        return self.read_rate is not None


def person_reads(log: Any) -> dict[str, dict[str, dict[str, int]]]:
    """Per person, per topic they were sent: ``{"sent": deliveries, "read": of them read}``."""
    import numpy as np

    topics = len(log.topics)
    cells = log.person.astype(np.int64) * topics + log.topic
    size = len(log.people) * topics
    sent = np.bincount(cells, minlength=size).reshape(-1, topics)
    read = np.bincount(cells[log.read], minlength=size).reshape(-1, topics)
    return {person: {log.topics[t]: {"sent": int(sent[i, t]), "read": int(read[i, t])}
                     for t in np.flatnonzero(sent[i]).tolist()}
            for i, person in enumerate(log.people)}


def figures(row: dict[str, Any], everyone_rate: float | None) -> SegmentFigures:
    """One segment's figures, with what too little data would reveal or mislead left out."""
    people, deliveries = int(row["people"]), int(row["deliveries"])
    measured = people >= MIN_PEOPLE and deliveries >= MIN_DELIVERIES
    rate = row["reads"] / deliveries if measured else None
    scored = int(row["scored"])
    return SegmentFigures(
        row["kind"], row["segment"], people, deliveries,
        int(row["reads"]) if people >= MIN_PEOPLE else None, rate,
        rate / everyone_rate if rate is not None and everyone_rate else None, scored,
        float(row["interest"]) if scored >= MIN_PEOPLE and row["interest"] is not None else None)


def rank_segments(rows: Sequence[dict[str, Any]]) -> tuple[SegmentFigures | None,
                                                           list[SegmentFigures]]:
    """(everyone's figures, the segments ranked as above) from the store's rows."""
    everyone = next((r for r in rows if r["kind"] == "everyone"), None)
    base = figures(everyone, None) if everyone else None
    rate = base.read_rate if base else None
    segments = [figures(r, rate) for r in rows if r["kind"] != "everyone"]
    return base, sorted(segments, key=lambda s: _order(s, rate or 0.0))


def _order(s: SegmentFigures, everyone_rate: float) -> tuple[Any, ...]:
    if s.measured:
        shrunk = (s.deliveries * s.read_rate + PRIOR * everyone_rate) / (s.deliveries + PRIOR)
        return (0, -shrunk, -s.deliveries, s.kind, s.segment)
    if s.interest is not None:
        return (1, -s.interest, s.kind, s.segment)
    return (2, -s.deliveries, s.kind, s.segment)
