"""What a campaign's flow run shows and returns: a markdown summary artifact and the result.

Called from the flow body, not from a task, so that the artifacts belong to the flow run
(its page in the Prefect UI shows them).  The result dict is the flow's return value, persisted
as JSON (see README, *Reading what you started*); the same dict is a ``result`` artifact, so
a system holding only Prefect's REST API reads it too.
"""

from __future__ import annotations

from typing import Any

from clarion.settings import Settings

COLUMNS = ("sent", "failed", "skipped", "deferred", "open", "total")


def artifact_key(campaign_id: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes."""
    return "campaign-" + campaign_id.lower().replace("_", "-")


def console_url(settings: Settings, campaign_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/console/campaigns/{campaign_id}"


def dashboard_links(grafana_url: str | None, channels: list[str]) -> str:
    """Markdown links to the Grafana boards for this campaign's channels."""
    if not grafana_url:
        return ("`dashboards/clarion-overview.json` and `clarion-channel.json` "
                "(set CLARION_GRAFANA_URL to link them here)")
    base = grafana_url.rstrip("/")
    links = [f"[overview]({base}/d/clarion-overview)"]
    links += [f"[{c}]({base}/d/clarion-channel?var-channel={c})" for c in channels]
    return ", ".join(links)


def reasons(decided: dict[str, dict[str, dict[str, int]]], channel: str, status: str) -> str:
    by_code = decided.get(channel, {}).get(status, {})
    return ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) or "–"


def result_of(info: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The flow's return value: who, how it ended, counts per channel and why."""
    return {"campaign_id": info["campaign_id"], "name": info["name"],
            "status": info["status"], "channels": info["channels"],
            "decisions": info["decisions"], "flow_run_id": info["flow_run_id"],
            "console_url": console_url(settings, info["campaign_id"])}


def markdown(result: dict[str, Any], settings: Settings) -> str:
    channels = sorted(result["channels"])
    lines = [f"## {result['name']}", "",
             f"Campaign `{result['campaign_id']}` — **{result['status']}**", "",
             "| channel | " + " | ".join(COLUMNS) + " | why skipped | why deferred |",
             "|---|" + "---:|" * len(COLUMNS) + "---|---|"]
    for ch in channels:
        counts = result["channels"][ch]
        lines.append(f"| {ch} | " + " | ".join(str(counts.get(c, 0)) for c in COLUMNS)
                     + f" | {reasons(result['decisions'], ch, 'skipped')}"
                     f" | {reasons(result['decisions'], ch, 'deferred')} |")
    lines += ["", f"Console: [{result['campaign_id']}]({result['console_url']})",
              f"Dashboards: {dashboard_links(settings.grafana_url, channels)}"]
    return "\n".join(lines)


async def publish(result: dict[str, Any], settings: Settings) -> None:
    """The summary (markdown) and the result (JSON) as artifacts of the current flow run."""
    from prefect.artifacts import acreate_markdown_artifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.runtime import flow_run
    key = artifact_key(result["campaign_id"])
    await acreate_markdown_artifact(markdown(result, settings), key=key,
                                    description=f"Clarion campaign {result['campaign_id']}")
    async with get_client() as client:
        await client.create_artifact(ArtifactCreate(
            type="result", key=f"{key}-result", data=result, flow_run_id=flow_run.id,
            description="the broadcast flow's result, as JSON"))
