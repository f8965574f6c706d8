"""Who engages with a category, per segment, added up in the database (SQLite or
PostgreSQL, ``CLARION_TEST_DB``) over the profiles the retrain wrote: the deliveries of the
category that reached each segment's people and how many of them were read, and the mean
learned interest of its people — by role (a person with two roles in both), department and
grade.  A person who opts out of profiling counts nowhere from then on."""

from __future__ import annotations

import pytest

from clarion.store import engagement
from clarion.store.segment_engagement import learned_at, segment_engagement

from .site import load_people, person

PHYSICS = [f"P{i}" for i in range(1, 7)]
HISTORY = ["H1", "H2", "H3"]


def profile(rid: str, n: int) -> dict:
    """Person number ``n``: interest 0.2·n in library; 2n library deliveries, n read (none
    of academic for the History people, whose interest in it is still learned)."""
    reads = {"library": {"sent": 2 * n, "read": n}}
    if rid.startswith("P"):
        reads["academic"] = {"sent": 4, "read": 0}
    return {"recipient_id": rid, "channel_order": None, "usual_hour": None, "events": 2 * n,
            "interests": {"library": 0.2 * n, "academic": 0.9}, "reads": reads}


@pytest.fixture
def profiled(store, tmp_path):  # type: ignore[no-untyped-def]
    load_people(store, tmp_path / "p.csv", [
        *(person(p, roles="student;advisor" if p == "P1" else "student") for p in PHYSICS),
        *(person(h, roles="faculty", department="History", grade="") for h in HISTORY),
        person("O1"), person("N1")])  # O1 opts out below; N1 has no profile yet
    engagement.put_profiles(store, [profile(rid, n) for n, rid in
                                    enumerate([*PHYSICS, *HISTORY, "O1"], start=1)])
    engagement.set_profiling(store, "O1", False)


def by_key(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["segment"]): r for r in rows}


def test_reads_and_interest_per_segment(store, profiled) -> None:  # type: ignore[no-untyped-def]
    got = by_key(segment_engagement(store, "library"))
    reads = {k: (r["people"], r["deliveries"], r["reads"]) for k, r in got.items()}
    assert reads == {("everyone", ""): (9, 90, 45), ("department", "Physics"): (6, 42, 21),
                     ("department", "History"): (3, 48, 24), ("role", "student"): (6, 42, 21),
                     ("role", "advisor"): (1, 2, 1), ("role", "faculty"): (3, 48, 24),
                     ("grade", "2024"): (6, 42, 21)}
    physics, history = got[("department", "Physics")], got[("department", "History")]
    assert (physics["scored"], history["scored"], got[("everyone", "")]["scored"]) == (6, 3, 9)
    assert physics["interest"] == pytest.approx(0.2 * 3.5)     # 0.2 … 1.2
    assert history["interest"] == pytest.approx(0.2 * 8)       # 1.4, 1.6, 1.8
    assert got[("role", "advisor")]["interest"] == pytest.approx(0.2)
    assert learned_at(store) is not None


def test_a_category_some_segments_never_got_and_one_nobody_knows(store, profiled) -> None:  # type: ignore[no-untyped-def]
    academic = by_key(segment_engagement(store, "academic"))
    history = academic[("department", "History")]
    assert (history["people"], history["deliveries"], history["reads"]) == (0, 0, 0)
    assert history["interest"] == pytest.approx(0.9) and history["scored"] == 3
    assert academic[("department", "Physics")]["deliveries"] == 24
    unknown = segment_engagement(store, "no-such-category")
    assert unknown and all((r["scored"], r["interest"], r["people"], r["deliveries"]) ==
                           (0, None, 0, 0) for r in unknown)
