"""The console's own ``CLARION_CONSOLE_*`` settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLARION_CONSOLE_", extra="ignore")

    session_hours: float = Field(8.0, gt=0)  # a session ends this long after sign-in
    login_failures: int = Field(10, ge=1)  # wrong passwords allowed per address per window …
    login_window_s: int = Field(900, ge=1)  # … before sign-in is refused until it passes
    default_locale: str = "zh-CN"
    progress_poll_s: float = Field(1.0, gt=0)  # one database read per tick for all watchers
    grafana_url: str | None = None  # links from the Overview (else CLARION_GRAFANA_URL)
