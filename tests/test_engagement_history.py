"""The retrain reads the site's engagement history from the database as columns: a simulated
site loaded into SQLite or PostgreSQL (``CLARION_TEST_DB``) comes back as the log it was
made from — every delivery in the window that reached a profiled person, its channel and
category, when it was sent and first read, the local hour of that read — and the
retrain-models flow's profile step learns from it (each profile keeping how many deliveries
of each category the person got and read)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from clarion.demo.history import load_site
from clarion.intelligence.engagement.site_history import category_log, simulate_site
from clarion.planning import profiles
from clarion.store import engagement

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def site(store, tmp_path):  # type: ignore[no-untyped-def]
    simulated = simulate_site(40, deliveries_per_person=60, days=20,
                              start=(NOW - timedelta(days=21)).timestamp(), seed=7)
    loaded = load_site(store, simulated, tmp_path, chunk=700)
    assert loaded.deliveries == len(simulated.log)
    assert loaded.events == int(simulated.log.read.sum() + simulated.clicked.sum())
    return simulated


def by_person(log) -> dict[str, tuple[int, int, float, list[int]]]:  # type: ignore[no-untyped-def]
    """Per person with a delivery: deliveries, reads, total delay of the reads, their hours."""
    out = {}
    for code, person in enumerate(log.people):
        mine = log.person == code
        if not mine.any():
            continue
        read = mine & log.read
        out[person] = (int(mine.sum()), int(read.sum()), float(log.delay[read].sum()),
                       sorted(log.hour[read].tolist()))
    return out


def assert_same(got, expected) -> None:  # type: ignore[no-untyped-def]
    assert len(got) == len(expected) > 0
    assert sorted(got.topics) == sorted(expected.topics)
    assert sorted(got.channels) == sorted(expected.channels)
    mine, theirs = by_person(got), by_person(expected)
    assert mine.keys() == theirs.keys()
    for person, (n, reads, delay, hours) in theirs.items():
        assert mine[person][:2] == (n, reads), person
        assert mine[person][2] == pytest.approx(delay, abs=0.01 * max(reads, 1)), person
        assert mine[person][3] == hours, person


def test_the_history_comes_back_from_the_database_as_it_was_made(store, site) -> None:  # type: ignore[no-untyped-def]
    since = NOW - timedelta(days=10)
    expected = category_log(site)
    expected = expected.subset(expected.sent_at >= since.timestamp())
    got = profiles.history_log(store, since)
    assert_same(got, expected)
    assert np.isnan(got.delay[~got.read]).all() and (got.hour[~got.read] == -1).all()
    assert (got.delay[got.read] >= 0).all()


def test_a_person_who_opts_out_is_not_read_and_the_profiles_are_learned(store, site) -> None:  # type: ignore[no-untyped-def]
    leaver = site.log.people[0]
    engagement.set_profiling(store, leaver, False)
    expected = category_log(site)
    expected = expected.subset(expected.person != 0)
    got = profiles.history_log(store, NOW - profiles.WINDOW)
    assert leaver not in got.people
    assert_same(got, expected)
    report = profiles.learn(store, NOW)
    assert (report.people, report.events) == (len(site.log.people) - 1, len(expected))
    assert report.load_s >= 0 and report.fit_s > 0 and report.seconds >= report.fit_s
    learned = engagement.page_profiles(store, site.log.people)
    assert leaver not in learned and len(learned) == len(site.log.people) - 1
    assert all(p["interests"] and p["channel_order"] for p in learned.values())
    someone = got.people.index(site.log.people[1])
    mine = got.person == someone
    assert learned[site.log.people[1]]["reads"] == {
        category: {"sent": int((mine & (got.topic == t)).sum()),
                   "read": int((mine & (got.topic == t) & got.read).sum())}
        for t, category in enumerate(got.topics) if (mine & (got.topic == t)).any()}
