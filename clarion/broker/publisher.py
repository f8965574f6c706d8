"""Publishing with publisher confirms, many messages in flight, awaited together."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Iterable, Iterator

from pika.spec import Basic

from ..settings import Settings
from .amqp import AsyncAmqp, BrokerUnavailable
from .message import DeliveryMessage, bundle_body, bundle_properties
from .names import Names


class PublishRefused(BrokerUnavailable):
    """The broker nacked a message."""


class ConfirmingPublisher:
    """Publishes on one confirm-mode channel; ``publish`` returns a future per message."""

    def __init__(self, amqp: AsyncAmqp, names: Names):
        self.amqp = amqp
        self.names = names
        self._ch = None
        self._seq = 0
        self._pending: dict[int, asyncio.Future] = {}

    async def open(self) -> ConfirmingPublisher:
        self._ch = await self.amqp.channel(on_close=self._on_channel_close)
        await self.amqp.call(self._ch.confirm_delivery, ack_nack_callback=self._on_confirm)
        return self

    def _on_confirm(self, frame) -> None:  # type: ignore[no-untyped-def]
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = ([t for t in self._pending if t <= method.delivery_tag] if method.multiple
                else [method.delivery_tag])
        for tag in tags:
            fut = self._pending.pop(tag, None)
            if fut is None or fut.done():
                continue
            if ok:
                fut.set_result(True)
            else:
                fut.set_exception(PublishRefused("broker refused a message (nack)"))

    def _on_channel_close(self, _ch, reason) -> None:  # type: ignore[no-untyped-def]
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BrokerUnavailable(f"publish channel closed: {reason}"))
        self._pending.clear()

    def publish(self, exchange: str, routing_key: str, msg: DeliveryMessage) -> asyncio.Future:
        return self._publish(exchange, routing_key, msg.to_body(), msg.properties())

    def _publish(self, exchange: str, routing_key: str, body: bytes,
                 properties: Any) -> asyncio.Future:
        if self._ch is None or not self._ch.is_open:
            raise BrokerUnavailable("publish channel is not open")
        fut = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._pending[self._seq] = fut
        self._ch.basic_publish(exchange, routing_key, body, properties)
        return fut

    def publish_bundle(self, messages: list[DeliveryMessage]) -> list[asyncio.Future]:
        """Deliveries of one campaign, channel and lane as one message on the bulk queue (or
        a few, should their personalised content make one larger than ``MAX_BUNDLE_BYTES``)."""
        first = messages[0]
        key = Names.bulk_key(first.channel, first.lane)
        return [self._publish(self.names.deliveries, key, body, bundle_properties(part))
                for part, body in _sized(messages)]

    def publish_delivery(self, msg: DeliveryMessage) -> asyncio.Future:
        return self.publish(self.names.deliveries, Names.routing_key(msg.channel, msg.lane), msg)

    def publish_retry(self, msg: DeliveryMessage, delay_s: int) -> asyncio.Future:
        return self.publish(self.names.retry, Names.retry_key(delay_s, msg.channel, msg.lane), msg)

    async def publish_all(self, messages: Iterable[DeliveryMessage], window: int = 1000) -> int:
        """Publish every message, at most ``window`` unconfirmed at once; return the count."""
        return await self._windowed((([self.publish_delivery(m)], 1) for m in messages),
                                    window)

    async def publish_bundles(self, messages: Iterable[DeliveryMessage], size: int,
                              window: int = 64) -> int:
        """Publish ``messages`` (one campaign, channel and lane) in bundles of up to ``size``,
        at most ``window`` bundles unconfirmed at once; return the number of deliveries."""
        return await self._windowed(((self.publish_bundle(b), len(b))
                                     for b in _batched(messages, size)), window)

    async def _windowed(self, sends: Iterable[tuple[list[asyncio.Future], int]],
                        window: int) -> int:
        """Drive ``sends`` (each: the futures of what it published, deliveries in it), waiting
        for confirms whenever ``window`` messages are unconfirmed; return the deliveries."""
        futures: list[asyncio.Future] = []
        count = 0
        for published, n in sends:
            futures += published
            count += n
            if len(futures) >= window:
                await self._confirmed(futures)
                futures = []
        await self._confirmed(futures)
        return count

    async def _confirmed(self, futures: list[asyncio.Future]) -> None:
        if not futures:
            return
        done, _ = await asyncio.wait({asyncio.gather(*futures), self.amqp.closed}, timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        for fut in futures:
            if not fut.done():
                fut.cancel()
                raise BrokerUnavailable("connection lost before the broker confirmed")
            fut.result()

    async def close(self) -> None:
        if self._ch is not None and self._ch.is_open:
            self._ch.close()


def _batched(items: Iterable[DeliveryMessage], size: int) -> Iterator[list[DeliveryMessage]]:
    """Lists of up to ``size`` items, in order (``itertools.batched`` from Python 3.12)."""
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


MAX_BUNDLE_BYTES = 4 * 2**20  # far below RabbitMQ's message size limit (128 MB by default)


def _sized(messages: list[DeliveryMessage]) -> list[tuple[list[DeliveryMessage], bytes]]:
    """``messages`` as bundle bodies of at most ``MAX_BUNDLE_BYTES`` (halved until they fit;
    a single delivery always goes, whatever its size)."""
    body = bundle_body(messages)
    if len(body) <= MAX_BUNDLE_BYTES or len(messages) == 1:
        return [(messages, body)]
    half = len(messages) // 2
    return _sized(messages[:half]) + _sized(messages[half:])


async def open_publisher(settings: Settings, channels: Iterable[str]) -> ConfirmingPublisher:
    """Connect, declare the topology for these channels, and open a confirming publisher."""
    from .topology import declare

    amqp = await AsyncAmqp.connect(settings.broker_url.get_secret_value(),
                                   str(settings.broker_ca_file) if settings.broker_ca_file else None)
    try:
        names = await declare(amqp, settings, channels)
        return await ConfirmingPublisher(amqp, names).open()
    except BaseException:
        await amqp.close()
        raise
