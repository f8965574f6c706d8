"""The broadcast flow: one notice to an audience over some channels.

register (idempotent on its key; the route fixed) → plan segments → one fan-out task per
(channel of the route, segment) → follow until nothing is on its way (deliveries deferred
to quiet hours' end or a digest wait: the campaign is then ``waiting``, and the release
flow completes it) → a table artifact of results per channel.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow

from clarion import campaigns
from clarion.domain import CampaignRequest
from clarion.flows.form import CampaignForm
from clarion.tasks.approval import await_approval
from clarion.tasks.campaign import check_category, plan_segments, refused, register_campaign
from clarion.tasks.common import context
from clarion.tasks import summary
from clarion.tasks.completion import await_completion, finish_campaign
from clarion.tasks.fanout import fan_out_segment


def _cancel_campaign(flow: Any, flow_run: Any, state: Any) -> None:
    """Cancelled in the Prefect UI: its deliveries not yet sent end skipped."""
    request = CampaignRequest.model_validate(flow_run.parameters["request"])
    from clarion.domain import campaign_id_for
    _settings, store = context()
    try:
        campaigns.cancel(store, campaign_id_for(request.campaign_key()), actor="prefect")
    except campaigns.CampaignNotFound:
        pass


@flow(name="broadcast", on_cancellation=[_cancel_campaign], log_prints=True,
      persist_result=True, result_serializer="json")
async def broadcast(request: CampaignForm, wait: bool = True,
                    timeout_s: float = 3600) -> dict[str, Any]:
    """Send a notice to an audience; returns the campaign id, status and per-channel counts
    (persisted: ``run_deployment(...).state.result()`` reads them)."""
    registered = register_campaign(request)
    if "refused" in registered:
        return refused(registered["refused"])
    campaign_id = registered["campaign_id"]
    if not await await_approval(campaign_id, request):  # rejected or timed out: cancelled
        return campaigns.get(context()[1], campaign_id)
    segments = plan_segments(request)
    advice = check_category.submit(request, campaign_id)  # beside the fan-out, never before
    fanouts = [fan_out_segment(campaign_id, channel, lo, hi, covers)
               for channel in registered["channels"] for lo, hi, covers in segments]
    await asyncio.gather(*fanouts)
    advice.wait()
    if not wait:
        return {"campaign_id": campaign_id, "status": "running", "channels": {}}
    counts = await await_completion(campaign_id, timeout_s)
    result = finish_campaign(campaign_id, counts)
    await summary.publish(result, context()[0])
    return result
