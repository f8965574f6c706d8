"""The AMQP consumer: connect (and reconnect with backoff), a consuming channel per lane and
kind with its prefetch, messages decoded into items for the scheduler, consumers cancelled
while a channel's account is paused, and a drain on SIGTERM.

A lost connection drops its stale tags: the broker redelivers those messages and the
pipeline's claim sees they are already final.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..broker.amqp import AsyncAmqp, BrokerUnavailable
from ..broker.message import DeliveryMessage
from ..broker.names import KINDS, LANES
from ..broker.publisher import ConfirmingPublisher
from ..broker.topology import declare
from ..channels.base import Channel
from ..settings import Settings
from .lanes import Item, Lane, Session
from .middleware import Middleware
from .scheduler import Scheduler
from .sizing import Sizing

log = logging.getLogger("clarion.worker")
DRAIN_SECONDS = 30

class Consumer:
    def __init__(self, settings: Settings, adapters: Mapping[str, Channel], sizing: Sizing,
                 scheduler: Scheduler, middleware: Middleware, stopping: asyncio.Event,
                 worker_id: str):
        self.settings, self.adapters, self.sizing = settings, adapters, sizing
        self.worker_id = worker_id
        self.scheduler, self.middleware, self.stopping = scheduler, middleware, stopping
        self.session: Session | None = None
        self.paused_until: dict[str, float] = {}

    async def run(self) -> None:
        """Serve connection after connection until stopped."""
        backoff = 0.5
        while not self.stopping.is_set():
            amqp = await self._connect(backoff)
            if amqp is None:
                backoff = min(backoff * 2, 10)
                continue
            backoff = 0.5
            try:
                await self._serve(amqp)
            except BrokerUnavailable as exc:
                log.warning("broker connection lost: %s", exc)
            finally:
                self.session = None
                self.scheduler.forget()
                await amqp.close()

    async def _connect(self, backoff: float) -> AsyncAmqp | None:
        ca = str(self.settings.broker_ca_file) if self.settings.broker_ca_file else None
        try:
            return await AsyncAmqp.connect(self.settings.broker_url.get_secret_value(), ca)
        except (BrokerUnavailable, OSError, asyncio.TimeoutError) as exc:
            log.warning("broker unavailable (%s); retrying in %.1fs", exc, backoff)
            await _sleep_unless(self.stopping, backoff)
            return None

    async def _serve(self, amqp: AsyncAmqp) -> None:
        names = await declare(amqp, self.settings, self.adapters)
        lanes = {}
        for lane in LANES:
            for kind in KINDS:
                ch = await amqp.channel(on_close=lane_closed(amqp))
                if kind == "single":  # bundles: a prefetch per consumer, set in consume()
                    await amqp.call(ch.basic_qos, prefetch_count=self.sizing.prefetch())
                lanes[lane, kind] = Lane(amqp, ch, kind)
        publisher = await ConfirmingPublisher(amqp, names).open()
        self.session = Session(amqp, lanes, publisher, names)
        for channel in self.adapters:
            if self.paused_until.get(channel, 0) <= time.time():
                self.consume(channel)
        log.info("%s consuming %s", self.worker_id, ", ".join(self.adapters))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({stop, amqp.closed}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if self.stopping.is_set():
            await self._drain()

    def consume(self, channel: str) -> None:
        s = self.session
        if s is None or not s.alive or channel in s.consumers:
            return
        pairs = []
        for (lane, kind), lane_ch in s.lanes.items():
            if kind == "bulk":  # applies to the consumer made next (pika runs these in order)
                lane_ch.ch.basic_qos(prefetch_count=self.sizing.bulk_prefetch(channel))
            pairs.append((lane_ch, lane_ch.ch.basic_consume(
                s.names.queue(channel, lane, kind), self._on_message(s, lane_ch))))
        s.consumers[channel] = pairs
        self.middleware.after_resume(channel)

    def pause(self, channel: str, seconds: float) -> None:
        """An account-level stop: stop taking this channel's messages for a while."""
        self.paused_until[channel] = time.time() + seconds
        s = self.session
        if s is not None and s.alive:
            for lane, tag in s.consumers.pop(channel, []):
                lane.ch.basic_cancel(tag)
        asyncio.get_running_loop().call_later(seconds, self.consume, channel)
        self.middleware.after_pause(channel, seconds)

    async def _drain(self) -> None:
        """SIGTERM: stop consuming, finish what is in hand, ack it, then close."""
        s = self.session
        if s is not None and s.alive:
            for pairs in s.consumers.values():
                for lane, tag in pairs:
                    lane.ch.basic_cancel(tag)
            s.consumers.clear()
        deadline = time.time() + DRAIN_SECONDS
        while self.scheduler.busy and time.time() < deadline:
            self.scheduler.wakeup.set()
            await asyncio.sleep(0.05)

    def _on_message(self, session: Session, lane_ch: Lane) -> Callable[..., None]:
        def on_message(_ch, method, properties, body) -> None:  # type: ignore[no-untyped-def]
            lane, msgs = decoded(body, properties)
            lane_ch.received(method.delivery_tag, len(msgs))
            self.scheduler.accept(lane, (Item(method.delivery_tag, msg, method.redelivered,
                                              lane_ch, session) for msg in msgs))
        return on_message

def decoded(body: bytes, properties: Any) -> tuple[str, list[DeliveryMessage | None]]:
    """(lane, the deliveries of one message); an unreadable message is one None, to be
    dead-lettered whole (an exception here would abort the connection)."""
    try:
        msgs = DeliveryMessage.decode(body, properties)
        lane = msgs[0].lane if msgs[0].lane in LANES else "normal"
        return lane, list(msgs)
    except Exception:  # noqa: BLE001 - whatever is unreadable is dead-lettered, whole
        return "normal", [None]

def lane_closed(amqp: AsyncAmqp) -> Callable[[Any, Any], None]:
    """A lane's channel closed by the broker (a consumer timeout, say) would leave that lane
    unserved: close the connection instead, and the worker reconnects."""
    def on_close(_ch, reason) -> None:  # type: ignore[no-untyped-def]
        if amqp.is_open:
            log.warning("a consuming channel closed (%s); reconnecting", reason)
            amqp.conn.close()
    return on_close

async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
