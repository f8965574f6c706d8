"""Real refusals by RabbitMQ for the tests of what a refused publish leaves behind: a policy
on one of the test's own queues that caps it (``max-length`` with ``overflow:
reject-publish``: the broker nacks what does not fit)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from contextlib import contextmanager
from typing import Any, Iterator

from clarion.broker.publisher import open_publisher

from .conftest import need, port_open, wait_until

MANAGEMENT = "http://127.0.0.1:15672/api"
GUEST = {"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q=", "Content-Type": "application/json"}
REJECT_BEYOND = {"overflow": "reject-publish"}


def _management(method: str, path: str, body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(MANAGEMENT + path, data=data, method=method, headers=GUEST)
    with urllib.request.urlopen(request, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def declared(settings, channels: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The topology of ``channels``, as a publisher declares it."""
    async def declare() -> None:
        publisher = await open_publisher(settings, channels)
        await publisher.amqp.close()
    asyncio.run(declare())


@contextmanager
def capped(queue: str, max_length: int) -> Iterator[None]:
    """A policy on this one queue of the test's namespace: at most ``max_length`` messages
    ready, newer ones refused (nacked); removed afterwards."""
    need("RabbitMQ's management plugin", port_open("127.0.0.1", 15672),
         "scripts/ensure-services.sh rabbitmq enables rabbitmq_management")
    name = f"clarion-test-{queue}"
    _management("PUT", f"/policies/%2F/{name}", {
        "pattern": f"^{re.escape(queue)}$", "apply-to": "queues", "priority": 100,
        "definition": {"max-length": max_length, **REJECT_BEYOND}})
    try:
        wait_until(lambda: _management("GET", f"/queues/%2F/{queue}").get("policy") == name,
                   timeout=30, message=f"policy on {queue}")
        yield
    finally:
        _management("DELETE", f"/policies/%2F/{name}")
