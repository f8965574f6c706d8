"""The hooks a worker calls around its work, and the chain that runs them in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...broker.message import DeliveryMessage
from ...channels.base import Channel, OutboundMessage, SendResult

if TYPE_CHECKING:
    from ..decide import Decision

Send = Callable[[list[OutboundMessage]], Awaitable[list[SendResult]]]


@dataclass(slots=True)
class SendCall:
    """One provider call about to be made (or just made)."""

    channel: str
    adapter: Channel
    messages: list[OutboundMessage]


class Middleware:
    """Every hook does nothing by default; a middleware overrides those it needs."""

    def after_start(self, adapters: Mapping[str, Channel]) -> None:
        """The worker's channels are built, before it consumes anything."""

    def before_batch(self, channel: str | None, size: int) -> None:
        """A batch is taken from the buffers."""

    def after_batch(self, channel: str | None, size: int) -> None:
        """A batch is done (recorded and acked, or left to redelivery)."""

    def after_skip(self, channel: str, reason: str, n: int) -> None:
        """Deliveries acked without sending: already final, cancelled, or a copy."""

    def after_dead_letter(self, n: int) -> None:
        """Unreadable messages went to the dead-letter queue."""

    async def around_send(self, call: SendCall, send: Send) -> list[SendResult]:
        """Make the provider call(s): ``await send(messages)``, when and as allowed."""
        return await send(call.messages)

    def before_send(self, call: SendCall) -> None:
        """Just before one provider call."""

    def after_send(self, call: SendCall, results: Sequence[SendResult], seconds: float,
                   error: BaseException | None) -> None:
        """One provider call made: its results (``error``: what it raised, if anything)."""

    def after_record(self, channel: str, decision: Decision,
                     messages: Mapping[str, DeliveryMessage]) -> None:
        """Results committed (before the broker ack)."""

    def after_pause(self, channel: str, seconds: float) -> None:
        """A channel's account stopped: it is not consumed for ``seconds``."""

    def after_resume(self, channel: str) -> None:
        """A channel is consumed (again)."""


class Chain(Middleware):
    """The installed middleware, each hook called on each in order (``around_send``: the
    first is outermost)."""

    def __init__(self, middleware: Sequence[Middleware]):
        self.middleware = list(middleware)

    def _each(self, hook: str, *args: Any) -> None:
        for m in self.middleware:
            getattr(m, hook)(*args)

    def after_start(self, adapters: Mapping[str, Channel]) -> None:
        self._each("after_start", adapters)

    def before_batch(self, channel: str | None, size: int) -> None:
        self._each("before_batch", channel, size)

    def after_batch(self, channel: str | None, size: int) -> None:
        self._each("after_batch", channel, size)

    def after_skip(self, channel: str, reason: str, n: int) -> None:
        self._each("after_skip", channel, reason, n)

    def after_dead_letter(self, n: int) -> None:
        self._each("after_dead_letter", n)

    def before_send(self, call: SendCall) -> None:
        self._each("before_send", call)

    def after_send(self, call: SendCall, results: Sequence[SendResult], seconds: float,
                   error: BaseException | None) -> None:
        self._each("after_send", call, results, seconds, error)

    def after_record(self, channel: str, decision: Decision,
                     messages: Mapping[str, DeliveryMessage]) -> None:
        self._each("after_record", channel, decision, messages)

    def after_pause(self, channel: str, seconds: float) -> None:
        self._each("after_pause", channel, seconds)

    def after_resume(self, channel: str) -> None:
        self._each("after_resume", channel)

    async def around_send(self, call: SendCall, send: Send) -> list[SendResult]:
        for m in reversed(self.middleware):
            send = _wrapped(m, call, send)
        return await send(call.messages)


def _wrapped(m: Middleware, call: SendCall, inner: Send) -> Send:
    async def send(messages: list[OutboundMessage]) -> list[SendResult]:
        return await m.around_send(SendCall(call.channel, call.adapter, messages), inner)
    return send
