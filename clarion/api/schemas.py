"""Request and response bodies of the API (the requests of campaigns and messages live in
clarion.domain and clarion.transactional)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..planning.categories import CategorySettings


class ChannelCounts(BaseModel):
    model_config = ConfigDict(extra="allow")

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    open: int = 0
    total: int = 0


class Note(BaseModel):
    """Something the sender should know (the request was accepted)."""

    field: str
    message: str


class CampaignStarted(BaseModel):
    campaign_id: str
    flow_run_id: str
    category: str | None = None  # as sent (the suggestion, for "auto")
    warnings: list[Note] = []


# channel → skipped/deferred → reason code → count
Decisions = dict[str, dict[str, dict[str, int]]]


class CampaignInfo(BaseModel):
    campaign_id: str
    name: str
    status: str
    category: str
    priority: str
    source: str
    flow_run_id: str | None
    route: dict[str, Any] | None = None
    created_at: str
    finished_at: str | None
    channels: dict[str, ChannelCounts]
    decisions: Decisions = {}


class CampaignCancelled(BaseModel):
    campaign_id: str
    skipped: int


class MessageAccepted(BaseModel):
    message_id: str
    deliveries: int
    category: str | None = None
    warnings: list[Note] = []


class MessageInfo(BaseModel):
    message_id: str
    api_key_id: str | None
    category: str
    priority: str
    recipients: int
    deliveries: int
    created_at: str
    channels: dict[str, ChannelCounts]
    decisions: Decisions = {}


class DeliveryView(BaseModel):
    id: str
    campaign_id: str | None
    message_id: str | None
    recipient_id: str
    channel: str
    category: str
    priority: str
    status: str
    attempts: int
    code: str | None
    reason: str | None
    provider_message_id: str | None
    release_at: datetime | None = None
    fallback_of: str | None = None
    digest_id: str | None = None
    created_at: datetime
    updated_at: datetime


class EventView(BaseModel):
    at: datetime
    status: str
    attempt: int
    code: str | None
    reason: str | None
    actor: str | None


class DeliveryTrace(BaseModel):
    delivery: DeliveryView
    events: list[EventView]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


class Receipt(BaseModel):
    """One provider report: by Clarion's delivery id or the provider's message id."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: str | None = Field(None, min_length=1, max_length=40)
    provider_message_id: str | None = Field(None, min_length=1, max_length=200)
    status: Literal["delivered", "failed"]
    code: str | None = Field(None, max_length=120)
    reason: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _identified(self) -> Receipt:
        if (self.delivery_id is None) == (self.provider_message_id is None):
            raise ValueError("give exactly one of delivery_id or provider_message_id")
        return self


class ReceiptBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipts: list[Receipt] = Field(..., min_length=1, max_length=1000)


class ReceiptResult(BaseModel):
    updated: int
    unknown: int
    ignored: int


class InboxItem(BaseModel):
    id: int
    delivery_id: str
    category: str
    title: str
    body: str
    url: str | None
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    unread: int
    next_cursor: str | None


class Health(BaseModel):
    status: str
    database: str


def delivery_view(row: dict[str, Any]) -> DeliveryView:
    return DeliveryView.model_validate({k: row.get(k) for k in DeliveryView.model_fields})


class CategoryList(BaseModel):
    items: list[CategorySettings]


class RuleView(BaseModel):
    category: str
    source: str
    channels: list[str]
    mode: str
    updated_at: datetime
    updated_by: str


class RuleList(BaseModel):
    items: list[RuleView]


class PreferenceItem(BaseModel):
    category: str
    description: str
    critical: bool
    default: Literal["in", "out"]
    channels: dict[str, bool]  # channel (or "*") → opted in


class PreferenceView(BaseModel):
    recipient_id: str
    items: list[PreferenceItem]
    profiling: bool  # may what they do be recorded and learned from (their inbox order …)
