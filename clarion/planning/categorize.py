"""Categories from the text: ``"category": "auto"`` takes the model's suggestion, and a
category the sender chose is never changed — but a text that reads more critical than it
(an emergency sent as ``campus``) is flagged to them.

The model is the site's current one (clarion.intelligence: trained on the shipped corpus,
retrained weekly from the site's own notices).  With no model yet, "auto" is refused naming
the field and the way out; flags are simply not raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Rejected
from ..intelligence import categories as model_tiers
from ..store import policy as sql
from ..store.db import Store

AUTO = "auto"


@dataclass(frozen=True)
class Advice:
    category: str  # what the notice is sent as
    suggested: bool  # the model chose it ("auto")
    confidence: float | None = None
    reason: str | None = None
    flag: str | None = None  # for the sender: the text reads more critical than the category

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "suggested": self.suggested,
                "confidence": self.confidence, "reason": self.reason, "flag": self.flag}


def text_of(variants: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The title and body a reader sees first: the default variant, else any."""
    chosen = variants.get("default") or next(iter(variants.values()), {})
    title = chosen.get("title") or chosen.get("subject") or ""
    body = chosen.get("body") or chosen.get("text") or ""
    return str(title), str(body)


def _tier(critical: set[str]):  # type: ignore[no-untyped-def]
    def tier(category: str) -> int:
        return 2 if category in critical else model_tiers.criticality(category)
    return tier


def advise(store: Store, category: str, variants: dict[str, dict[str, Any]]) -> Advice:
    """The category to send as, and what the sender should know about it."""
    from ..intelligence.suggest import check_category, suggest
    title, body = text_of(variants)
    if category != AUTO:
        known = sql.categories(store)
        flag = check_category(category, title, body,
                              tier=_tier({n for n, c in known.items() if c["critical"]}))
        return Advice(category, False, flag=flag.message if flag else None)
    suggestion = suggest(title, body)
    if suggestion.category is None:
        raise Rejected("category", f"no category could be suggested ({suggestion.reason}); "
                                   "name the category")
    if suggestion.category not in sql.categories(store):
        raise Rejected("category", f"the suggested category {suggestion.category!r} is not "
                                   "one of this site's; name the category")
    return Advice(suggestion.category, True, suggestion.confidence, suggestion.reason)
