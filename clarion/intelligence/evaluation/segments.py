"""Segment suggestions scored on a simulated site (a simulation, not real people).

The site (``engagement.site_history``: tastes shared within department × role) gives, per
category and kind of segment (department, role), the rows the store gives the console — the
same aggregates, computed here from the log in memory, with each person's interests learned
as the retrain learns them (ALS over person × category reads).  They are ranked as the
console ranks them, and compared with each segment's true preference (its people's mean
chance of reading the category's topics): was the segment that truly prefers the category
ranked first, and how well do the read rate and the learned interest each follow the truth
(Spearman's rank correlation over the segments)?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engagement.events import EngagementLog
from ..engagement.interests import learned_interests
from ..engagement.segments import rank_segments
from ..engagement.site_history import SimulatedSite, category_log, segment_of, simulate_site

KINDS = ("department", "role")


@dataclass(frozen=True)
class SegmentCase:
    kind: str
    category: str
    true_top: str
    ranked_top: str
    by_interest_top: str
    read_rate_rho: float
    interest_rho: float


def segment_labels(site: SimulatedSite, kind: str) -> list[str]:
    """Each person's segment of ``kind``, as the simulated directory has it."""
    return [segment_of(int(s))[KINDS.index(kind)] for s in site.population.segment]


def segment_rows(log: EngagementLog, labels: list[str], interests: dict[str, dict[str, float]],
                 kind: str, category: str) -> list[dict[str, Any]]:
    """The store's rows (``segment_engagement``) for one kind and category, and everyone."""
    import numpy as np

    names = sorted(set(labels))
    code = np.array([names.index(x) for x in labels])
    sent = log.topic == log.topics.index(category)
    score = np.array([interests.get(p, {}).get(category, np.nan) for p in log.people])
    rows = []
    for group, segment in [*((code == i, n) for i, n in enumerate(names)),
                           (np.ones(len(labels), bool), "")]:
        mine = sent & group[log.person]
        scored = group & ~np.isnan(score)
        rows.append({"kind": kind if segment else "everyone", "segment": segment,
                     "people": len(np.unique(log.person[mine])), "deliveries": int(mine.sum()),
                     "reads": int(log.read[mine].sum()), "scored": int(scored.sum()),
                     "interest": float(score[scored].mean()) if scored.any() else None})
    return rows


def true_preference(site: SimulatedSite, labels: list[str], category: str) -> dict[str, float]:
    import numpy as np

    topics = [t for t in range(len(site.log.topics)) if site.category(t) == category]
    chance = site.population.interest[:, topics].mean(axis=1)
    people = np.array(labels)
    return {s: float(chance[people == s].mean()) for s in sorted(set(labels))}


def score_case(kind: str, category: str, rows: list[dict[str, Any]],
               truth: dict[str, float]) -> SegmentCase:
    from scipy.stats import spearmanr

    _everyone, ranked = rank_segments(rows)
    names = sorted(truth)
    rate = {s.segment: s.read_rate for s in ranked}
    interest = {s.segment: s.interest for s in ranked}
    true = [truth[n] for n in names]
    return SegmentCase(kind, category, max(truth, key=truth.get), ranked[0].segment,
                       max(interest, key=lambda n: interest[n] or 0.0),
                       float(spearmanr(true, [rate[n] for n in names])[0]),
                       float(spearmanr(true, [interest[n] for n in names])[0]))


def evaluate_segments(people: int = 3000, seed: int = 0) -> list[SegmentCase]:
    site = simulate_site(people, seed=seed)
    log = category_log(site)
    interests = learned_interests(log)
    cases = []
    for kind in KINDS:
        labels = segment_labels(site, kind)
        for category in log.topics:
            rows = segment_rows(log, labels, interests, kind, category)
            cases.append(score_case(kind, category, rows,
                                    true_preference(site, labels, category)))
    return cases


def format_segments(cases: list[SegmentCase], people: int) -> str:
    lines = [f"SIMULATED site: {people:,} people, tastes shared within department × role "
             "(not real people)",
             f"{'kind':<11}{'category':<11}{'truly first':<13}{'ranked first':<14}"
             f"{'ALS first':<13}{'ρ read rate':>12}{'ρ ALS':>8}"]
    for c in cases:
        lines.append(f"{c.kind:<11}{c.category:<11}{c.true_top:<13}{c.ranked_top:<14}"
                     f"{c.by_interest_top:<13}{c.read_rate_rho:>12.2f}{c.interest_rho:>8.2f}")
    right = sum(c.ranked_top == c.true_top for c in cases)
    by_als = sum(c.by_interest_top == c.true_top for c in cases)
    lines.append(f"the segment that truly prefers the category ranked first: {right} of "
                 f"{len(cases)}; first by learned interest alone: {by_als} of {len(cases)}")
    return "\n".join(lines)
