"""Register a campaign (checked first, idempotent on its key) and plan its segments."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
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
    campaign_id, _created = campaigns.register(store, prepared.request, prepared.route,
                                               flow_run_id=str(flow_run.id or ""))
    if prepared.advice is not None:
        campaigns.note_advice(store, campaign_id, prepared.advice)
        get_run_logger().info("category %s suggested: %s", prepared.advice.category,
                              prepared.advice.reason)
    _request, route = campaigns.load(store, campaign_id)
    return {"campaign_id": campaign_id, "channels": list(route.channels), "mode": route.mode}


@task(name="check-category")
def check_category(request: CampaignRequest, campaign_id: str) -> str | None:
    """Does the text read more critical than its category?  Said to the sender (the flow
    run's log, the campaign, its artifact), never changed; runs beside the fan-out."""
    _settings, store = context()
    try:
        advice = campaigns.flag(store, request)
    except Exception as exc:  # noqa: BLE001 - advice must never stop a campaign
        get_run_logger().warning("category check skipped: %s", type(exc).__name__)
        return None
    if advice is None:
        return None
    campaigns.note_advice(store, campaign_id, advice)
    get_run_logger().warning("category: %s", advice.flag)
    return advice.flag


@task(name="plan-segments", retries=2, retry_delay_seconds=2,
      retry_condition_fn=retry_if_transient)
def plan_segments(request: CampaignRequest) -> list[tuple[str | None, str | None]]:
    settings, store = context()
    return directory.segment_bounds(store, request.audience, settings.segment_size)
