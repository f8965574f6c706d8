"""The flows that send what waited: ``release-deferred`` (every minute: deliveries whose
quiet hours are over, and any left unconfirmed by a process that died) and ``digests``
(hourly: each digest category's collected deliveries, one message per person)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from clarion.tasks import waiting


@flow(name="release-deferred", log_prints=True)
async def release_deferred() -> dict[str, Any]:
    """Publish the deferred deliveries that are due; complete campaigns left waiting."""
    return await waiting.release_due()


@flow(name="digests", log_prints=True)
async def digests(category: str | None = None) -> dict[str, Any]:
    """Send the digests that are due (of one category, or all)."""
    return await waiting.send_digests(category)
