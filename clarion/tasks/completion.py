"""Follow a campaign until every delivery is final, then report per channel."""

from __future__ import annotations

import asyncio
import time

from prefect import task
from prefect.artifacts import create_table_artifact

from clarion import campaigns
from clarion.domain import CampaignStatus
from clarion.store import deliveries
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
        counts = await asyncio.to_thread(deliveries.counts, store, campaign_id)
        if not campaigns.in_progress(counts) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(poll_s)


def dashboard_links(grafana_url: str | None, channels: list[str]) -> str:
    """Markdown links to the Grafana boards for this campaign's channels."""
    if not grafana_url:
        return ("Dashboards: `dashboards/clarion-overview.json` and `clarion-channel.json` "
                "(set CLARION_GRAFANA_URL to link them here).")
    base = grafana_url.rstrip("/")
    links = [f"[overview]({base}/d/clarion-overview)"]
    links += [f"[{c}]({base}/d/clarion-channel?var-channel={c})" for c in channels]
    return "Dashboards: " + ", ".join(links)


@task(name="report-results", retries=5, retry_delay_seconds=[1, 2, 5, 10, 20],
      retry_condition_fn=retry_if_transient)
def report_results(campaign_id: str, counts: dict[str, dict[str, int]]) -> str:
    settings, store = context()
    if not campaigns.is_cancelled(store, campaign_id):
        if campaigns.is_finished(counts):
            campaigns.finish(store, campaign_id, CampaignStatus.COMPLETED)
        elif not campaigns.in_progress(counts):
            campaigns.hand_over(store, campaign_id)
    summary = campaigns.summarize(counts)
    decided = deliveries.decisions(store, campaign_id=campaign_id)
    rows = [{"channel": ch, **c, "why skipped": _reasons(decided, ch, "skipped"),
             "why deferred": _reasons(decided, ch, "deferred")}
            for ch, c in sorted(summary.items())]
    links = dashboard_links(settings.grafana_url, sorted(summary))
    create_table_artifact(key=f"campaign-{campaign_id.replace('_', '-')}", table=rows,
                          description=f"Clarion campaign `{campaign_id}`: deliveries per "
                                      f"channel (sent, failed, skipped, deferred, still "
                                      f"open). {links}")
    return campaign_id


def _reasons(decided: dict[str, dict[str, dict[str, int]]], channel: str, status: str) -> str:
    by_code = decided.get(channel, {}).get(status, {})
    return ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) or "-"
