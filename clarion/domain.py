"""Domain vocabulary shared by every part: statuses, priorities and the CampaignRequest."""

from __future__ import annotations

import enum
import hashlib
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .variants import Content, Variant  # noqa: F401 - Variant: the message API's variant


class Priority(str, enum.Enum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def lane(self) -> str:
        """Which queue lane carries it: urgent and emergency jump the normal backlog."""
        return "normal" if self is Priority.NORMAL else "urgent"


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"
    DEFERRED = "deferred"


FINAL_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ,
                            DeliveryStatus.FAILED, DeliveryStatus.SKIPPED})
OPEN_STATUSES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.QUEUED,
                           DeliveryStatus.SENDING, DeliveryStatus.DEFERRED})


class CampaignStatus(str, enum.Enum):
    RUNNING = "running"
    WAITING = "waiting"  # fanned out; some deliveries wait (quiet hours, digest)
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


def checked_channels(v: list[str] | str) -> list[str] | str:
    """A request's channels: 1–20 distinct names, or ``"auto"``."""
    if isinstance(v, str):
        return v
    if not 1 <= len(v) <= 20:
        raise ValueError("name 1 to 20 channels, or \"auto\"")
    if len(set(v)) != len(v):
        raise ValueError("channels are repeated")
    return v


class Audience(BaseModel):
    """Who receives it: the union of the ids and of everyone matching every given filter."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(default_factory=list, max_length=100)
    departments: list[str] = Field(default_factory=list, max_length=500)
    grades: list[str] = Field(default_factory=list, max_length=100)
    ids: list[str] = Field(default_factory=list, max_length=100_000)
    everyone: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> Audience:
        if not (self.everyone or self.roles or self.departments or self.grades or self.ids):
            raise ValueError("audience is empty: give roles, departments, grades, ids "
                             "or everyone=true")
        return self


class CampaignRequest(BaseModel):
    """A notice to an audience over some channels: the broadcast flow's one parameter."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    category: str = Field("general", min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    priority: Priority = Priority.NORMAL
    audience: Audience
    channels: list[str] | Literal["auto"] = Field(
        ..., description='the channels to use, or "auto": the routing rule of the category')
    template: str | None = Field(None, description="a stored template's name")
    content: Content | None = Field(
        None, description="the text, per channel: a default and any channel's own")
    variables: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(None, max_length=200)
    source: str = Field("cli", max_length=64, description="which system asked")

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, v: list[str] | str) -> list[str] | str:
        return checked_channels(v)

    @model_validator(mode="after")
    def _one_content_source(self) -> CampaignRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give exactly one of template or content")
        return self

    def campaign_key(self) -> str:
        """The idempotency key, or one derived from the request itself."""
        if self.idempotency_key:
            return self.idempotency_key
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:32]
        return f"auto-{digest}"


def campaign_id_for(key: str) -> str:
    return "c_" + uuid.uuid5(uuid.NAMESPACE_URL, f"clarion:campaign:{key}").hex[:24]


def delivery_id_for(campaign_id: str, recipient_id: str, channel: str) -> str:
    raw = f"{campaign_id}|{recipient_id}|{channel}".encode()
    return "d_" + hashlib.blake2b(raw, digest_size=12).hexdigest()
