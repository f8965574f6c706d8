"""Campaigns without Prefect: check a request, register it once, follow, cancel.

The flow's tasks, the CLI and the API all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from . import content as content_mod
from . import directory
from .channels.registry import channel_specs
from .domain import (FINAL_STATUSES, CampaignRequest, CampaignStatus, DeliveryStatus,
                     campaign_id_for)
from .settings import Settings
from .store import deliveries
from .store.db import Store
from .store.models import Campaign, utcnow

OPEN = {s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.QUEUED, DeliveryStatus.SENDING)}
FINAL = {s.value for s in FINAL_STATUSES}


class CampaignRejected(ValueError):
    """A request that can't be sent; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CampaignNotFound(LookupError):
    pass


@dataclass
class Prepared:
    request: CampaignRequest
    compiled: Any  # content.CompiledContent
    audience_size: int


def variants_of(store: Store, request: CampaignRequest) -> dict[str, dict[str, Any]]:
    if request.content is not None:
        return {k: v.model_dump(exclude_none=True) for k, v in request.content.items()}
    try:
        return content_mod.load_template(store, request.template or "")
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc


def compile_for(store: Store, settings: Settings, request: CampaignRequest):
    specs = channel_specs(settings)
    unknown = [c for c in request.channels if c not in specs]
    if unknown:
        raise CampaignRejected("channels", f"unknown channel(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(specs))}")
    kinds = {c: specs[c]["type"] for c in request.channels}
    try:
        return content_mod.compile_content(variants_of(store, request), request.channels, kinds)
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc


def prepare(store: Store, settings: Settings, request: CampaignRequest) -> Prepared:
    """Everything that can be checked before a single delivery exists."""
    compiled = compile_for(store, settings, request)
    size = directory.count_audience(store, request.audience)
    if size == 0:
        raise CampaignRejected("audience", "the audience matches no recipients")
    sample = directory.sample_recipient(store, request.audience) or {}
    try:
        compiled.check(request.variables, sample)
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc
    return Prepared(request, compiled, size)


def register(store: Store, request: CampaignRequest, flow_run_id: str | None = None
             ) -> tuple[str, bool]:
    """Create the campaign row once per key; a repeat returns the existing id."""
    key = request.campaign_key()
    cid = campaign_id_for(key)
    with store.session() as s:
        existing = s.get(Campaign, cid)
        if existing is not None:
            if flow_run_id and not existing.flow_run_id:
                existing.flow_run_id = flow_run_id
            return cid, False
        s.add(Campaign(id=cid, key=key, name=request.name, category=request.category,
                       priority=request.priority.value, source=request.source,
                       request=request.model_dump(mode="json"),
                       status=CampaignStatus.RUNNING.value, flow_run_id=flow_run_id))
    return cid, True


def _row(store: Store, campaign_id: str) -> Any:
    with store.read() as conn:
        row = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()
    if row is None:
        raise CampaignNotFound(campaign_id)
    return row


def load_request(store: Store, campaign_id: str) -> CampaignRequest:
    return CampaignRequest.model_validate(_row(store, campaign_id).request)


def get(store: Store, campaign_id: str) -> dict[str, Any]:
    row = _row(store, campaign_id)
    info = {"campaign_id": row.id, "name": row.name, "status": row.status,
            "category": row.category, "priority": row.priority, "source": row.source,
            "flow_run_id": row.flow_run_id, "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None}
    info["channels"] = summarize(deliveries.counts(store, campaign_id))
    return info


def summarize(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """channel → {sent, failed, skipped, open, total, …} from raw status counts."""
    out: dict[str, dict[str, int]] = {}
    for channel, by_status in counts.items():
        row = {"sent": 0, "failed": 0, "skipped": 0, "open": 0, "total": 0}
        for status, n in by_status.items():
            key = "sent" if status in ("sent", "delivered", "read") else status
            key = "open" if status in OPEN else key
            row[key] = row.get(key, 0) + n
            row["total"] += n
        out[channel] = row
    return out


def is_finished(counts: dict[str, dict[str, int]]) -> bool:
    return all(status not in OPEN for by in counts.values() for status in by)


def finish(store: Store, campaign_id: str, status: CampaignStatus) -> None:
    with store.session() as s:
        s.execute(update(Campaign).where(Campaign.id == campaign_id,
                                         Campaign.status == CampaignStatus.RUNNING.value)
                  .values(status=status.value, finished_at=utcnow()))


def cancel(store: Store, campaign_id: str, actor: str = "cli") -> int:
    """Stop a campaign: its deliveries not yet sent end skipped (reason cancelled)."""
    with store.session() as s:
        row = s.get(Campaign, campaign_id)
        if row is None:
            raise CampaignNotFound(campaign_id)
        row.status = CampaignStatus.CANCELLED.value
        row.finished_at = utcnow()
    return deliveries.skip_open(store, campaign_id, "cancelled", actor)


def is_cancelled(store: Store, campaign_id: str) -> bool:
    with store.read() as conn:
        status = conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar()
    return status == CampaignStatus.CANCELLED.value
