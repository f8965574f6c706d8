"""Register a campaign (checked first, idempotent on its key) and plan its segments."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.runtime import flow_run

from clarion import campaigns, directory
from clarion.domain import CampaignRequest
from clarion.tasks.common import context, retry_if_transient


@task(name="register-campaign", retries=2, retry_delay_seconds=2,
      retry_condition_fn=retry_if_transient)
def register_campaign(request: CampaignRequest) -> dict[str, Any]:
    """Check and register; returns the campaign id and the channels of its route (as fixed
    at its first registration)."""
    settings, store = context()
    prepared = campaigns.prepare(store, settings, request)
    campaign_id, _created = campaigns.register(store, request, prepared.route,
                                               flow_run_id=str(flow_run.id or ""))
    _request, route = campaigns.load(store, campaign_id)
    return {"campaign_id": campaign_id, "channels": list(route.channels), "mode": route.mode}


@task(name="plan-segments", retries=2, retry_delay_seconds=2,
      retry_condition_fn=retry_if_transient)
def plan_segments(request: CampaignRequest) -> list[tuple[str | None, str | None, str]]:
    """(after_id, upto_id, what it covers) per segment of the audience."""
    settings, store = context()
    bounds = directory.segment_bounds(store, request.audience, settings.segment_size)
    labels = directory.segment_labels(store, request.audience, bounds)
    return [(lo, hi, label) for (lo, hi), label in zip(bounds, labels)]
