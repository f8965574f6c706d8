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
    at its first registration), or ``{"refused": "field: why"}`` for a request that cannot
    be sent (said in the log as one line, not as a failure with a traceback)."""
    settings, store = context()
    try:
        prepared = campaigns.prepare(store, settings, request)
    except campaigns.CampaignRejected as exc:
        return {"refused": f"{exc.field}: {exc.message}"}
    campaign_id, _created = campaigns.register(store, prepared.request, prepared.route,
                                               flow_run_id=str(flow_run.id or ""))
    if prepared.advice is not None:
        campaigns.note_advice(store, campaign_id, prepared.advice)
        get_run_logger().info("category %s suggested: %s", prepared.advice.category,
                              prepared.advice.reason)
    _request, route = campaigns.load(store, campaign_id)
    return {"campaign_id": campaign_id, "channels": list(route.channels), "mode": route.mode}


def refused(why: str) -> Any:
    """The flow's end for a request that cannot be sent: Failed, with the reason."""
    from prefect.states import Failed
    message = f"campaign refused: {why}"
    get_run_logger().error(message)
    return Failed(message=message)


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
def plan_segments(request: CampaignRequest) -> list[tuple[str | None, str | None, str]]:
    """(after_id, upto_id, what it covers) per segment of the audience."""
    settings, store = context()
    bounds = directory.segment_bounds(store, request.audience, settings.segment_size)
    labels = directory.segment_labels(store, request.audience, bounds)
    return [(lo, hi, label) for (lo, hi), label in zip(bounds, labels)]
