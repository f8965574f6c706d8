"""Settings from ``CLARION_*`` environment variables and an optional TOML/JSON config file.

Defaults work on one machine: SQLite under ``./var``, RabbitMQ on 127.0.0.1 with guest/guest.
A config file (``CLARION_CONFIG=path``) may add channel accounts; the environment wins.
"""

from __future__ import annotations

import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config_file_values() -> dict[str, Any]:
    path = os.environ.get("CLARION_CONFIG")
    if not path:
        return {}
    text = Path(path).read_text()
    return json.loads(text) if path.endswith(".json") else tomllib.loads(text)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLARION_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: sqlite:///<data_dir>/clarion.db
    broker_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/%2F")
    broker_namespace: str = "clarion"  # prefix of every exchange and queue name
    broker_ca_file: Path | None = None  # CA bundle for amqps://
    queue_type: str = "classic"  # or "quorum"

    smtp_url: SecretStr | None = None  # smtp://user:pass@host:port or smtps://…
    smtp_starttls: bool = False
    mail_from: str = "Clarion <noreply@clarion.local>"
    message_id_domain: str = "clarion.local"
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # logical channel name -> {"type": adapter type, …options}; adds to or replaces the defaults
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)

    worker_prefetch: int = 500
    worker_batch_size: int = 200
    worker_concurrency: int = 64  # provider requests in flight per worker
    max_attempts: int = 6
    retry_delays: list[int] = Field(default_factory=lambda: [1, 5, 30, 120, 600])
    fanout_chunk: int = 2000
    # deliveries per AMQP message from a campaign's fan-out (1: a message each; see
    # clarion/broker/message.py); workers take about two provider batches' worth at a time
    fanout_bundle: int = Field(500, ge=1, le=5000)
    segment_size: int = 10000

    # delivery policy (clarion/planning): on by default; off: only addresses are checked
    policy: bool = True
    predictions: bool = True  # per-person channel order and send time (clarion/intelligence)
    default_timezone: str = "Asia/Shanghai"  # of people whose directory row names none
    public_url: str = "http://127.0.0.1:8000"  # where people reach the API (unsubscribe links)
    link_secret: SecretStr = SecretStr("clarion-dev-link-secret")  # set it in production
    unsubscribe_ttl_days: int = Field(60, ge=1, le=3650)
    # how long a tracked link (categories with track_links; clarion/planning/links.py) works
    link_tracking_ttl_days: int = Field(90, ge=1, le=3650)
    release_batch: int = Field(5000, ge=1, le=100_000)  # deferred deliveries per release step

    # approval (clarion/tasks/approval.py): emergencies, audiences above this size and senders
    # whose role needs it wait for an approver; unanswered after the timeout: cancelled.
    # off: nothing waits (drills, the demo, benchmarks)
    approval: bool = True
    approval_audience_size: int = Field(5000, ge=1)
    approval_timeout_s: int = Field(24 * 3600, ge=1)
    approval_poll_s: int = Field(5, ge=1)

    metrics_port: int | None = None
    grafana_url: str | None = None  # linked from each campaign's Prefect artifact
    log_json: bool = False

    @field_validator("queue_type")
    @classmethod
    def _queue_type(cls, v: str) -> str:
        if v not in ("classic", "quorum"):
            raise ValueError("queue_type must be 'classic' or 'quorum'")
        return v

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from .planning.quiet_hours import zone
        zone(v)
        return v

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clarion.db').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    values = {k: v for k, v in _config_file_values().items()
              if f"CLARION_{k.upper()}" not in os.environ}
    values.update(overrides)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
