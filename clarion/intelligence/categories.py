"""The notice categories the models know and how critical each one is."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("academic", "research", "campus", "library", "emergency", "admin")

# Higher is more critical.  A notice that reads like a higher tier than the one it is sent as is
# flagged to the sender (never changed): emergencies skip quiet hours and caps, and teaching or
# administrative deadlines matter more than a routine announcement.
CRITICALITY: dict[str, int] = {
    "emergency": 2,
    "academic": 1,
    "admin": 1,
    "research": 0,
    "campus": 0,
    "library": 0,
}

EMERGENCY = "emergency"


def criticality(category: str | None) -> int:
    """A category's tier; unknown categories (e.g. a site's ``general``) are routine."""
    return CRITICALITY.get(category or "", 0)
