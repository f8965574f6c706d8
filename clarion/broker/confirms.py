"""One confirm-mode channel: every message published on it gets a future that the broker's
answer settles.

The broker answers a message in one of four ways, and the future says which:

- ``basic.ack`` — taken (the future's result is True);
- ``basic.nack`` — refused, e.g. by a queue at its ``x-max-length`` that rejects new
  messages (``x-overflow: reject-publish``): ``PublishRefused``;
- ``basic.return`` then ``basic.ack`` — unroutable: no queue is bound for its routing key
  (messages are published ``mandatory``, so the broker says so rather than drop it):
  ``PublishRefused``;
- the channel closed by the broker with 406 PRECONDITION_FAILED — refused, e.g. a message
  larger than the broker's ``max_message_size``; the close does not say which message, so
  every unconfirmed one gets ``ChannelRefused`` (the publisher finds the one at fault).

Anything else that ends the channel (the connection lost, a close for another reason) is
``BrokerUnavailable``: nothing was refused, the message is to be published again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pika.exceptions
from pika.spec import Basic

from ..errors import ClarionError
from .amqp import AsyncAmqp, BrokerUnavailable

PRECONDITION_FAILED = 406


class PublishRefused(ClarionError):
    """The broker refused a message; ``reason`` is what it said."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ChannelRefused(PublishRefused):
    """The broker closed the channel on one of its unconfirmed messages (406)."""


@dataclass(slots=True)
class Outgoing:
    """One AMQP message to publish, and the deliveries it carries."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Any  # pika.BasicProperties
    ids: list[str]

    @property
    def where(self) -> str:
        return f"exchange {self.exchange}, routing key {self.routing_key}"


@dataclass(slots=True)
class _InFlight:
    future: asyncio.Future
    out: Outgoing
    returned: str | None = None  # what the broker said when it returned the message


class ConfirmChannel:
    """A channel in confirm mode, its messages in flight by delivery tag."""

    def __init__(self, amqp: AsyncAmqp):
        self.amqp = amqp
        self._ch: Any = None
        self._seq = 0
        self._pending: dict[int, _InFlight] = {}

    async def open(self) -> ConfirmChannel:
        self._ch = await self.amqp.channel(on_close=self._on_close)
        self._ch.add_on_return_callback(self._on_return)
        await self.amqp.call(self._ch.confirm_delivery, ack_nack_callback=self._on_confirm)
        return self

    @property
    def is_open(self) -> bool:
        return self._ch is not None and self._ch.is_open

    def publish(self, out: Outgoing) -> asyncio.Future:
        if not self.is_open:
            raise BrokerUnavailable("publish channel is not open")
        fut = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._pending[self._seq] = _InFlight(fut, out)
        self._ch.basic_publish(out.exchange, out.routing_key, out.body, out.properties,
                               mandatory=True)
        return fut

    def close(self) -> None:
        if self.is_open:
            self._ch.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = ([t for t in self._pending if t <= method.delivery_tag] if method.multiple
                else [method.delivery_tag])
        for tag in tags:
            flight = self._pending.pop(tag, None)
            if flight is not None and not flight.future.done():
                _settle(flight, isinstance(method, Basic.Ack))

    def _on_return(self, _ch: Any, method: Any, properties: Any, _body: bytes) -> None:
        """A ``basic.return`` comes before the ack of the same message: note it on the
        earliest unconfirmed message of that id."""
        for flight in self._pending.values():
            if flight.returned is None and flight.out.properties.message_id == \
                    properties.message_id:
                flight.returned = (f"RabbitMQ returned the message unroutable: "
                                   f"{method.reply_code} {method.reply_text} "
                                   f"({flight.out.where})")
                return

    def _on_close(self, _ch: Any, reason: Any) -> None:
        error = _close_error(reason)
        for flight in self._pending.values():
            if not flight.future.done():
                flight.future.set_exception(error)
        self._pending.clear()


def _settle(flight: _InFlight, acked: bool) -> None:
    if not acked:
        flight.future.set_exception(PublishRefused(
            f"RabbitMQ refused the message (basic.nack; {flight.out.where})"))
    elif flight.returned is not None:
        flight.future.set_exception(PublishRefused(flight.returned))
    else:
        flight.future.set_result(True)


def _close_error(reason: Any) -> Exception:
    """What a channel's close means for its unconfirmed messages."""
    if (isinstance(reason, pika.exceptions.ChannelClosedByBroker)
            and reason.reply_code == PRECONDITION_FAILED):
        return ChannelRefused(f"RabbitMQ closed the channel on the message: "
                              f"{reason.reply_code} {reason.reply_text}")
    return BrokerUnavailable(f"publish channel closed: {reason}")
