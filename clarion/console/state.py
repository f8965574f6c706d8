"""What every console page shares: the API's state (store, settings, how campaigns start),
the console's settings and the live-progress hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..settings import Settings
from ..store.db import Store
from .progress import ProgressHub
from .settings import ConsoleSettings


@dataclass
class ConsoleState:
    api: Any  # clarion.api.state.ApiState
    console: ConsoleSettings
    progress: ProgressHub

    @property
    def store(self) -> Store:
        return self.api.store

    @property
    def settings(self) -> Settings:
        return self.api.settings
