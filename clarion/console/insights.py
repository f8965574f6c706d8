"""What Insights and Compose's "Who reads …" panel show for a category: the store's
per-segment sums over the profiles of the last retrain, ranked (clarion.intelligence.
engagement.segments: read rate first, learned interest where too little was measured)."""

from __future__ import annotations

from typing import Any

from ..errors import Rejected
from ..intelligence.engagement.segments import MIN_DELIVERIES, MIN_PEOPLE, rank_segments
from ..planning import config
from ..planning.profiles import WINDOW
from ..store.db import Store
from ..store.segment_engagement import learned_at, segment_engagement


def categories(store: Store) -> list[str]:
    return [c.name for c in config.list_categories(store)]


def known_category(store: Store, name: str, choices: list[str] | None = None) -> str:
    """``name`` if it is one of ``choices`` (the site's categories); refused naming the field."""
    choices = categories(store) if choices is None else choices
    if name not in choices:
        shown = repr(name[:64]) if name else "none given"
        raise Rejected("category", f"no category {shown}; known: {', '.join(choices)}")
    return name


def who_reads(store: Store, category: str) -> dict[str, Any]:
    """The figures of one category: everyone's, and each segment's, ranked."""
    everyone, ranked = rank_segments(segment_engagement(store, category))
    return {"category": category, "everyone": everyone, "segments": ranked,
            "days": WINDOW.days, "learned_at": learned_at(store), "min_people": MIN_PEOPLE,
            "min_deliveries": MIN_DELIVERIES}
