"""``clarion worker``: the parts put together.

consumer (AMQP: lanes, acks, reconnect) → scheduler (buffers, urgent hold, batches) →
pipeline (claim → send → decide → record → retry → ack), with middleware hooked around
sending (metrics, logging, rate limits, and whatever ``middleware.install`` added).  One
asyncio loop runs pika's AsyncioConnection and the adapters (aiohttp, aiosmtplib); database
writes go to the store's writer (SQLite: one thread, group commit; PostgreSQL: a few
pooled connections).  Urgent lanes are always served first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from ..channels.base import Channel, ConfigurationError
from ..channels.registry import ChannelDeps, build_channel, channel_specs
from ..settings import Settings
from ..store.db import Store, store_for
from . import middleware
from .consumer import Consumer
from .middleware.logs import Logging
from .middleware.metrics import Metrics
from .middleware.ratelimits import RateLimits
from .pipeline import Pipeline
from .ratelimit import Limiter
from .scheduler import Scheduler
from .sizing import Sizing

log = logging.getLogger("clarion.worker")


def build_adapters(settings: Settings, wanted: list[str] | None) -> dict[str, Channel]:
    """The channels this worker serves: those named, or every one that is configured."""
    adapters = {}
    for name in wanted or list(channel_specs(settings)):
        try:
            adapters[name] = build_channel(settings, name, ChannelDeps())
        except ConfigurationError as exc:
            if wanted:
                raise
            log.info("channel %s not served: %s", name, exc.reason)
    if not adapters:
        raise ConfigurationError("no channel is configured for this worker")
    return adapters


class Worker:
    def __init__(self, settings: Settings, store: Store, channels: list[str] | None = None,
                 worker_id: str | None = None):
        self.settings, self.store, self.wanted = settings, store, channels
        self.worker_id = worker_id or f"worker:{socket.gethostname()}:{os.getpid()}"
        self.adapters: dict[str, Channel] = {}
        self.stopping = asyncio.Event()
        self.writer = store.writer()
        self.middleware = middleware.Chain([
            Metrics(), Logging(), RateLimits(Limiter(store, settings)),
            *middleware.installed()])
        self.sizing = Sizing(settings, self.adapters)
        self.pipeline = Pipeline(settings, store, self.adapters, self.writer, self.middleware,
                                 self.worker_id, self._pause)
        self.scheduler = Scheduler(self.sizing, self.pipeline.run, self.stopping)
        self.consumer = Consumer(settings, self.adapters, self.sizing, self.scheduler,
                                 self.middleware, self.stopping, self.worker_id)

    def _pause(self, channel: str, seconds: float) -> None:
        self.consumer.pause(channel, seconds)

    async def run(self) -> None:
        self.adapters.update(build_adapters(self.settings, self.wanted))
        self.middleware.after_start(self.adapters)
        self._stop_on_signals()
        dispatcher = asyncio.create_task(self.scheduler.dispatch())
        try:
            await self.consumer.run()
        finally:
            dispatcher.cancel()
            for adapter in self.adapters.values():
                await adapter.aclose()
            self.writer.close()
            log.info("%s stopped after handling %d deliveries", self.worker_id,
                     self.pipeline.handled)

    def _stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass


def run_worker(settings: Settings, channels: list[str] | None = None) -> None:
    asyncio.run(Worker(settings, store_for(settings.db_url), channels).run())
