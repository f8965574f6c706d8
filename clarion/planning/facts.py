"""What the policy stage reads of a page of people before it decides: their preferences for
the category, how many of its notices they got lately, whether this same content reached
them already, what was learned of them — one query each per page, only those the notice
needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..store import engagement as engagement_sql
from ..store.db import Store
from .policy import Facts, Notice

DAY, WEEK = timedelta(days=1), timedelta(days=7)


def read_facts(store: Store, notice: Notice, ids: list[str], now: datetime) -> Facts:
    facts = Facts()
    if notice.unconditional or not ids:
        return facts
    cat = notice.category
    owner = (notice.campaign_id, notice.message_id)
    if not cat.critical:
        facts.preferences = store.page_preferences(ids, cat.name)
        if cat.caps:
            facts.notices = store.notices_since(ids, cat.name, now - DAY, now - WEEK, *owner)
    if notice.predicted:
        facts.profiles = engagement_sql.page_profiles(store, ids)
    if cat.dedup_window_s:
        since = now - timedelta(seconds=cat.dedup_window_s)
        facts.duplicates = store.duplicates_since(ids, notice.content_hash, since, *owner)
    return facts
