"""Tasks of the flows that send what waited: deferred deliveries that are due, digests."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from clarion.planning import digests, release
from clarion.tasks.common import context, retry_if_transient


@task(name="release-due", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=retry_if_transient)
async def release_due() -> dict[str, Any]:
    settings, store = context()
    return asdict(await release.release_due(store, settings))


@task(name="send-digests", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=retry_if_transient,
      task_run_name="digests {category}")
async def send_digests(category: str | None = None) -> dict[str, Any]:
    settings, store = context()
    return asdict(await digests.send_digests(store, settings, category))
