"""One notice, made ready for the pipeline: its category's policy, its route, what each
channel needs (address field, adapter type) and how its rows are made.

Used alike by campaigns (clarion.campaigns, clarion.planning.fanout) and transactional
messages (clarion.transactional): a rule is written once and applies to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..channels.registry import address_field, channel_specs
from ..domain import Priority
from ..errors import Rejected
from ..settings import Settings
from ..store import policy as sql
from ..store.db import Store
from .categories import CategorySettings
from .links import LinkTracker
from .policy import Notice
from .routing import Route, route_for
from .rows import Render, RowMaker, content_hash, wants_links
from .unsubscribe import Links


def load_category(store: Store, name: str) -> CategorySettings:
    known = sql.categories(store)
    if name not in known:
        raise Rejected("category", f"unknown category {name!r}; known: "
                                   f"{', '.join(sorted(known))} (add one with "
                                   "`clarion category set NAME`)")
    return CategorySettings.from_row(known[name])


def resolve_route(store: Store, settings: Settings, category: str, source: str,
                  channels: list[str] | str, priority: Priority) -> Route:
    """The request's channels, or its category's rule (for its system, else any)."""
    rule = sql.rule_for(store, category, source) if channels == "auto" else None
    return route_for(channels, rule, category, source, priority, set(channel_specs(settings)))


def notice_for(settings: Settings, category: CategorySettings, priority: Priority,
               route: Route, variants: Mapping[str, Any], variables: Mapping[str, Any], *,
               campaign_id: str | None = None, message_id: str | None = None) -> Notice:
    return Notice(category=category, priority=priority, route=route,
                  content_hash=content_hash(variants, variables),
                  address_fields={c: address_field(settings, c) for c in route.channels},
                  default_timezone=settings.default_timezone, campaign_id=campaign_id,
                  message_id=message_id, enabled=settings.policy,
                  predictions=settings.predictions)


def row_maker(settings: Settings, notice: Notice, render: Render, source: str,
              now: datetime) -> RowMaker:
    specs = channel_specs(settings)
    kinds = {c: specs[c]["type"] for c in notice.route.channels}
    links = Links(settings, now) if wants_links(notice) else None
    tracker = LinkTracker(settings, now) if notice.category.track_links else None
    return RowMaker(notice, render, kinds, source, now, links, tracker)
