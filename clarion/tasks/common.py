"""What every task needs: settings, the store, and which failures are worth a retry."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import OperationalError

from clarion.broker.amqp import BrokerUnavailable
from clarion.settings import Settings, get_settings
from clarion.store.db import Store, store_for

TRANSIENT = (BrokerUnavailable, OperationalError, ConnectionError, TimeoutError)


def context() -> tuple[Settings, Store]:
    settings = get_settings()
    return settings, store_for(settings.db_url)


def retry_if_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect owns task retries, and only for failures that a retry can cure."""
    return isinstance(getattr(state, "data", None), TRANSIENT)
