"""What every request handler shares: settings, the store, the publisher, the rate limiter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from fastapi import Request

from ..security import ApiSettings
from ..settings import Settings
from ..store.db import Store
from .audit import AuditTrail
from .inbox_feed import InboxFeed
from .publishing import SharedPublisher
from .ratelimit import RateLimiter

# (parameters, flow-run idempotency key) -> flow run id
CampaignStarter = Callable[[dict[str, Any], str], Awaitable[str]]


async def start_broadcast(parameters: dict[str, Any], idempotency_key: str) -> str:
    """Create a flow run of the served ``broadcast/broadcast`` deployment; don't wait for it.

    The client is opened and closed here: without one, ``arun_deployment`` makes a client it
    never closes, and every call would leave its connection pool to the garbage collector."""
    from prefect.client.orchestration import get_client
    from prefect.deployments.flow_runs import arun_deployment
    async with get_client() as client:
        run = await arun_deployment(name="broadcast/broadcast", client=client,
                                    parameters=parameters, timeout=0,
                                    idempotency_key=idempotency_key, as_subflow=False)
    return str(run.id)


@dataclass
class ApiState:
    settings: Settings
    api: ApiSettings
    store: Store
    publisher: SharedPublisher
    limiter: RateLimiter = field(default_factory=RateLimiter)
    start_campaign: CampaignStarter = start_broadcast
    audit_trail: AuditTrail = field(init=False)  # refusals and reads, written in batches
    inbox_feed: InboxFeed = field(init=False)  # one poller for every open inbox stream

    def __post_init__(self) -> None:
        self.audit_trail = AuditTrail(self.store)
        self.inbox_feed = InboxFeed(self.store, self.api)


def state(request: Request) -> ApiState:
    return request.app.state.clarion
