"""Follow a campaign until every delivery is final, then settle its status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect import task

from clarion import campaigns
from clarion.domain import CampaignStatus
from clarion.store import deliveries
from clarion.tasks import summary
from clarion.tasks.common import context, retry_if_transient


# a restart of the database (or a failover) must not fail the campaign's flow: both tasks
# only read and record what the workers did, and are safe to run again
@task(name="await-completion", retries=5, retry_delay_seconds=[1, 2, 5, 10, 20],
      retry_condition_fn=retry_if_transient)
async def await_completion(campaign_id: str, timeout_s: float = 3600,
                           poll_s: float = 0.5) -> dict[str, dict[str, int]]:
    """Status counts per channel once nothing is on its way any more (what is deferred
    waits for its time), or at the timeout."""
    _settings, store = context()
    deadline = time.monotonic() + timeout_s
    while True:
        counts = await asyncio.to_thread(store.counts, campaign_id)
        if not campaigns.in_progress(counts) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(poll_s)


@task(name="finish-campaign", retries=5, retry_delay_seconds=[1, 2, 5, 10, 20],
      retry_condition_fn=retry_if_transient)
def finish_campaign(campaign_id: str, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Mark the campaign completed (or waiting, if deliveries wait for their time); return
    the flow's result: status, counts and reasons per channel, the console link."""
    settings, store = context()
    if not campaigns.is_cancelled(store, campaign_id):
        if campaigns.is_finished(counts):
            campaigns.finish(store, campaign_id, CampaignStatus.COMPLETED)
        elif not campaigns.in_progress(counts):
            campaigns.hand_over(store, campaign_id)
    return summary.result_of(campaigns.get(store, campaign_id), settings)
