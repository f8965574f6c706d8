"""Publishing with publisher confirms, many messages in flight, awaited together.

Each publish call reports what it handed over (``Handover``): the deliveries the broker
confirmed and those it refused, with what it said (clarion.broker.confirms).  A refusal is
an answer, not an error — the caller records it (clarion.planning.handoff) and the rest of
the call still goes out; a lost connection is ``BrokerUnavailable``, to publish again.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..settings import Settings
from .amqp import AsyncAmqp, BrokerUnavailable
from .confirms import ChannelRefused, ConfirmChannel, Outgoing, PublishRefused
from .message import DeliveryMessage, bundle_body, bundle_properties
from .names import Names

__all__ = ["BrokerUnavailable", "ConfirmingPublisher", "Handover", "Outgoing",
           "PublishRefused", "Refusal", "open_publisher"]
CONFIRM_TIMEOUT_S = 60


@dataclass(slots=True)
class Refusal:
    """Deliveries the broker would not take (one AMQP message's), and what it said."""

    ids: list[str]
    reason: str


@dataclass
class Handover:
    """What one publish call handed over: deliveries confirmed, and those refused."""

    confirmed: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def refused_reasons(self) -> dict[str, str]:
        """delivery id → what the broker said of it."""
        return {i: r.reason for r in self.refused for i in r.ids}


class ConfirmingPublisher:
    """Publishes on one confirm-mode channel, reopened after the broker closes it on a
    refused message; ``publish`` returns a future per message."""

    def __init__(self, amqp: AsyncAmqp, names: Names):
        self.amqp = amqp
        self.names = names
        self._main: ConfirmChannel | None = None
        self._reopening = asyncio.Lock()

    async def open(self) -> ConfirmingPublisher:
        self._main = await ConfirmChannel(self.amqp).open()
        return self

    @property
    def is_open(self) -> bool:
        return self.amqp.is_open and self._main is not None and self._main.is_open

    async def _ensure_open(self) -> None:
        """The channel again after the broker closed it on a refusal (once, however many
        callers noticed)."""
        async with self._reopening:
            if not self.is_open and self.amqp.is_open:
                await self.open()

    def _publish(self, out: Outgoing) -> asyncio.Future:
        if self._main is None:
            raise BrokerUnavailable("publish channel is not open")
        return self._main.publish(out)

    def publish(self, exchange: str, routing_key: str, msg: DeliveryMessage) -> asyncio.Future:
        return self._publish(_single(exchange, routing_key, msg))

    def publish_delivery(self, msg: DeliveryMessage) -> asyncio.Future:
        return self.publish(self.names.deliveries, Names.routing_key(msg.channel, msg.lane), msg)

    def publish_retry(self, msg: DeliveryMessage, delay_s: int) -> asyncio.Future:
        return self.publish(self.names.retry, Names.retry_key(delay_s, msg.channel, msg.lane), msg)

    def bundles(self, messages: list[DeliveryMessage]) -> list[Outgoing]:
        """Deliveries of one campaign, channel and lane as one message on the bulk queue (or
        a few, should their personalised content make one larger than ``MAX_BUNDLE_BYTES``)."""
        first = messages[0]
        key = Names.bulk_key(first.channel, first.lane)
        return [Outgoing(self.names.deliveries, key, body, bundle_properties(part),
                         [m.id for m in part]) for part, body in _sized(messages)]

    async def publish_all(self, messages: Iterable[DeliveryMessage], window: int = 1000
                          ) -> Handover:
        """Publish every message, at most ``window`` unconfirmed at once."""
        key = Names.routing_key
        return await self.hand_over((_single(self.names.deliveries, key(m.channel, m.lane), m)
                                     for m in messages), window)

    async def publish_bundles(self, messages: Iterable[DeliveryMessage], size: int,
                              window: int = 64) -> Handover:
        """Publish ``messages`` (one campaign, channel and lane) in bundles of up to ``size``,
        at most ``window`` bundles unconfirmed at once."""
        return await self.hand_over((out for batch in _batched(messages, size)
                                     for out in self.bundles(batch)), window)

    async def hand_over(self, outgoing: Iterable[Outgoing], window: int) -> Handover:
        """Publish each message, waiting for the broker's answers whenever ``window`` are
        unconfirmed; what it refused is in the answer, the rest was confirmed."""
        await self._ensure_open()
        handover = Handover()
        flights: list[tuple[asyncio.Future, Outgoing]] = []
        for out in outgoing:
            flights.append((self._publish(out), out))
            if len(flights) >= window:
                await self._settle(flights, handover)
                flights = []
        await self._settle(flights, handover)
        return handover

    async def _settle(self, flights: list[tuple[asyncio.Future, Outgoing]],
                      handover: Handover) -> None:
        """The broker's answers to ``flights``, into ``handover``; those the channel closed
        on are published again one at a time to find the one at fault."""
        await self._answered([f for f, _ in flights])
        again = [out for fut, out in flights if _tally(fut, out, handover, alone=False)]
        if again:
            await self._one_at_a_time(again, handover)
        if not self.is_open:
            await self._ensure_open()

    async def _one_at_a_time(self, outs: list[Outgoing], handover: Handover) -> None:
        """Each alone, on a channel that no other caller shares (a new one after each
        close): if the broker closes it, the message on it is the one it refused."""
        lone: ConfirmChannel | None = None
        try:
            for out in outs:
                if lone is None or not lone.is_open:
                    lone = await ConfirmChannel(self.amqp).open()
                fut = lone.publish(out)
                await self._answered([fut])
                _tally(fut, out, handover, alone=True)
        finally:
            if lone is not None:
                lone.close()

    async def _answered(self, futures: list[asyncio.Future]) -> None:
        """Until the broker has answered every one of ``futures``; ``BrokerUnavailable``
        if the connection goes first (or nothing is heard for a minute)."""
        if not futures:
            return
        answers = asyncio.gather(*futures, return_exceptions=True)
        await asyncio.wait({answers, self.amqp.closed}, timeout=CONFIRM_TIMEOUT_S,
                           return_when=asyncio.FIRST_COMPLETED)
        if not answers.done():
            answers.cancel()
            raise BrokerUnavailable("connection lost before the broker confirmed")

    async def confirm(self, futures: list[asyncio.Future]) -> None:
        """Wait for every confirm; raise the first failure (refused or lost) as it is."""
        await self._answered(futures)
        for fut in futures:
            fut.result()

    async def close(self) -> None:
        if self._main is not None:
            self._main.close()


def _single(exchange: str, routing_key: str, msg: DeliveryMessage) -> Outgoing:
    return Outgoing(exchange, routing_key, msg.to_body(), msg.properties(), [msg.id])


def _tally(fut: asyncio.Future, out: Outgoing, handover: Handover, alone: bool) -> bool:
    """Count one answered message into ``handover``; True if the channel closed on it or
    another (not ``alone``): to publish again by itself.  A lost one raises."""
    error = fut.exception()
    if error is None:
        handover.confirmed += len(out.ids)
        return False
    if isinstance(error, ChannelRefused) and not alone:
        return True
    if isinstance(error, PublishRefused):
        handover.refused.append(Refusal(out.ids, error.reason))
        return False
    raise error


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
