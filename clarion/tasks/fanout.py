"""One retryable task per (channel, audience segment): render, insert, publish."""

from __future__ import annotations

from typing import Any, Callable

from prefect import task

from clarion.planning import fanout
from clarion.tasks.common import context, retry_if_transient

# tests set this to make a fan-out fail part-way (called with the count published so far)
FAULT_HOOK: Callable[[int], None] | None = None


@task(name="fan-out", retries=3, retry_delay_seconds=[1, 5, 15],
      retry_condition_fn=retry_if_transient,
      task_run_name="{channel}, {covers}")
async def fan_out_segment(campaign_id: str, channel: str, after_id: str | None,
                          upto_id: str | None, covers: str = "all") -> dict[str, Any]:
    """Render, insert and publish one channel's deliveries to the segment (after_id,
    upto_id]; ``covers`` says which recipients that is, for the task run's name."""
    settings, store = context()
    report = await fanout.fan_out(store, settings, campaign_id, channel, after_id, upto_id,
                                  fault=FAULT_HOOK)
    return {"channel": channel, "created": report.created, "published": report.published,
            "refused": report.refused, "skipped": report.skipped, "deferred": report.deferred}
