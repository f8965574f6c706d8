"""Provider calls: a batch cut into the adapter's calls, each made through the middleware
(rate limits pace it, metrics time it), each failure turned into results — a channel makes
one attempt; the queue owns retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from ..channels.base import (
    Channel, ChannelError, ConfigurationError, OutboundMessage, RetryableError, SendResult,
    results_for_all,
)
from .middleware import Middleware, SendCall

log = logging.getLogger("clarion.worker")


class Sender:
    def __init__(self, adapters: Mapping[str, Channel], middleware: Middleware):
        self.adapters, self.middleware = adapters, middleware

    async def send_all(self, channel: str, outbound: list[OutboundMessage]
                       ) -> list[SendResult]:
        """One result per message, the adapter's calls side by side."""
        adapter = self.adapters.get(channel)
        if adapter is None:
            err = ConfigurationError(f"channel {channel!r} is not configured on this worker")
            return results_for_all(outbound, err)
        step = max(1, adapter.max_batch)
        calls = [self._paced(SendCall(channel, adapter, outbound[k:k + step]))
                 for k in range(0, len(outbound), step)]
        return [r for results in await asyncio.gather(*calls) for r in results]

    async def _paced(self, call: SendCall) -> list[SendResult]:
        async def attempt(messages: list[OutboundMessage]) -> list[SendResult]:
            return await self._attempt(SendCall(call.channel, call.adapter, messages))
        return await self.middleware.around_send(call, attempt)

    async def _attempt(self, call: SendCall) -> list[SendResult]:
        """One provider call."""
        self.middleware.before_send(call)
        started, error = time.perf_counter(), None
        try:
            results = await call.adapter.send(call.messages)
        except ChannelError as exc:
            error, results = exc, results_for_all(call.messages, exc)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not lose deliveries
            log.exception("adapter %s raised", call.channel)
            error = exc
            results = results_for_all(call.messages, RetryableError(
                f"adapter error: {type(exc).__name__}"))
        self.middleware.after_send(call, results, time.perf_counter() - started, error)
        return results
