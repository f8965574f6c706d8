"""Which segments engage with a category: the ranking on a simulated site whose tastes are
known, and what too little data shows (nothing that would tell what a few people read)."""

from __future__ import annotations

import pytest

from clarion.intelligence.engagement.interests import learned_interests
from clarion.intelligence.engagement.segments import MIN_DELIVERIES, MIN_PEOPLE, rank_segments
from clarion.intelligence.engagement.site_history import COLLEGES, category_log, simulate_site
from clarion.intelligence.evaluation.segments import segment_labels, segment_rows, true_preference


@pytest.fixture(scope="module")
def by_department():
    """A simulated site whose tastes go by department alone (8 departments, 2,000 people)."""
    site = simulate_site(2000, seed=3, segments=len(COLLEGES))
    log = category_log(site)
    return site, log, learned_interests(log), segment_labels(site, "department")


def test_the_department_that_truly_prefers_a_category_ranks_first(by_department) -> None:
    site, log, interests, labels = by_department
    for category in log.topics:
        truth = true_preference(site, labels, category)
        everyone, ranked = rank_segments(segment_rows(log, labels, interests, "department",
                                                     category))
        assert ranked[0].segment == max(truth, key=truth.get), category
        assert [s.segment for s in ranked[:1]] != [s.segment for s in ranked[-1:]]
        assert ranked[0].lift > 1.0 > ranked[-1].lift
        assert everyone.deliveries == sum(s.deliveries for s in ranked)


def row(segment: str, people: int, deliveries: int, reads: int, scored: int = 0,
        interest: float | None = None, kind: str = "department") -> dict:
    return {"kind": kind, "segment": segment, "people": people, "deliveries": deliveries,
            "reads": reads, "scored": scored, "interest": interest}


def test_too_little_data_is_said_and_ranked_after_what_was_measured() -> None:
    everyone, ranked = rank_segments([
        row("", 400, 4000, 1000, 400, 0.5, kind="everyone"),
        row("Big", 300, 3000, 600, 300, 0.4),                  # 20%: measured, lowest
        row("Keen", 50, 500, 250, 50, 0.6),                     # 50%, shrunk 0.486: first
        row("Lucky", 6, MIN_DELIVERIES, 21, 6, 0.9),  # 70% of 30, shrunk to 0.475: second
        row("New", 40, MIN_DELIVERIES - 1, 20, 40, 0.95),       # too few deliveries: by interest
        row("Tiny", MIN_PEOPLE - 1, 200, 190, MIN_PEOPLE - 1, 0.99),  # too few people
    ])
    assert everyone.read_rate == 0.25
    assert [s.segment for s in ranked] == ["Keen", "Lucky", "Big", "New", "Tiny"]
    keen, new, tiny = ranked[0], ranked[3], ranked[4]
    assert (keen.read_rate, keen.lift, keen.reads) == (0.5, 2.0, 250)
    assert new.read_rate is None and new.interest == 0.95 and new.reads == 20
    assert tiny.read_rate is None and tiny.reads is None and tiny.interest is None
    assert tiny.deliveries == 200  # its size is all that is shown


def test_no_engagement_at_all_ranks_without_dividing_by_zero() -> None:
    everyone, ranked = rank_segments([row("", 0, 0, 0, kind="everyone"), row("A", 0, 0, 0),
                                      row("B", 10, 40, 0, 10, 0.1)])
    assert everyone.read_rate is None
    assert [(s.segment, s.read_rate, s.lift) for s in ranked] == [("B", 0.0, None),
                                                                  ("A", None, None)]
