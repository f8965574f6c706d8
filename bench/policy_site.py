"""A busy site for the benchmarks: the policy stage has real work to do on every page.

The notice's category keeps quiet hours (a window that nobody is in during the run, so what
is sent does not depend on the hour), a cap per day and per week, and its duplicate window;
10% of the campus have preferences for it (opt-ins: with the policy stage on or off the
same deliveries go out, so the two are compared on the same work).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert

from clarion.planning import config
from clarion.planning.quiet_hours import zone
from clarion.store.models import utcnow
from clarion.store.policy_models import Preference

SHARE = 10  # every 10th person has a preference


def quiet_window_away_from(now: datetime, tz: str = "Asia/Shanghai") -> str:
    """A one-hour window starting three hours from ``now``, local time."""
    start = now.astimezone(zone(tz)) + timedelta(hours=3)
    return f"{start:%H:00}-{start + timedelta(hours=1):%H:00}"


def configure(store: Any, category: str, people: list[str],
              first: list[str] | None = None) -> dict[str, Any]:
    """``first``: a routing rule of mode ``first`` over these channels for the category, and a
    learned profile for every person that reads them in the rule's order — so the policy
    stage's predictions read and apply a profile per person yet choose what the rule would
    (the same deliveries with predictions on or off: ``--route first``)."""
    current = next(c for c in config.list_categories(store) if c.name == category)
    busy = current.model_copy(update={
        "quiet_hours": quiet_window_away_from(datetime.now(timezone.utc)),
        "cap_per_day": 3, "cap_per_week": 10, "dedup_window_s": 3600})
    config.set_category(store, busy, "bench")
    chosen = people[::SHARE]
    at = utcnow()
    rows = [{"recipient_id": rid, "category": category, "channel": "*", "opted_in": True,
             "updated_at": at, "updated_by": "bench"} for rid in chosen]
    with store.connect() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Preference), rows[start:start + 5000])
    site = {"category": category, "quiet_hours": busy.quiet_hours, "caps": [3, 10],
            "preferences": len(rows)}
    if first:
        site.update(_first_route(store, category, people, first))
    return site


def _first_route(store: Any, category: str, people: list[str], channels: list[str]
                 ) -> dict[str, Any]:
    from clarion.planning.routing import RuleSpec
    from clarion.settings import get_settings
    from clarion.store.engagement import put_profiles
    config.set_rule(store, get_settings(), category, RuleSpec(channels=channels, mode="first"),
                    "bench")
    put_profiles(store, [{"recipient_id": rid, "channel_order": channels, "usual_hour": None,
                          "interests": {category: 0.5}, "events": 20} for rid in people])
    return {"rule": f"first: {' → '.join(channels)}", "profiles": len(people)}
