"""What the consumer hands on: one AMQP channel per lane and kind (``Lane``, with its ack
tracking and the bookkeeping of bundles), one connection's lanes (``Session``), and each
delivery taken from a message (``Item``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..broker.amqp import AsyncAmqp
from ..broker.message import DeliveryMessage
from ..broker.names import Names
from ..broker.publisher import ConfirmingPublisher
from .acks import AckTracker


@dataclass(slots=True)
class Item:
    tag: int
    msg: DeliveryMessage | None  # None: a poison message
    redelivered: bool
    lane: "Lane"
    session: "Session"


class Lane:
    """One AMQP channel consuming one lane of one kind (single deliveries or bundles), with its
    own prefetch window and ack tracker.

    Each lane has its own channel so that a full window of normal deliveries never holds
    back an urgent one.  A bundle's message is settled once every delivery in it is: acked,
    or requeued whole if any of them has to be (the claim skips those already final).
    """

    def __init__(self, amqp: AsyncAmqp, ch: Any, kind: str = "single"):
        self.amqp, self.ch, self.kind = amqp, ch, kind
        self.acks = AckTracker()
        self.parts: dict[int, int] = {}  # tag → deliveries of that message not yet settled
        self.requeued: set[int] = set()  # tags to requeue once all their deliveries are done

    @property
    def alive(self) -> bool:
        return self.amqp.is_open and self.ch.is_open

    def received(self, tag: int, parts: int = 1) -> None:
        self.acks.received(tag)
        self.parts[tag] = parts

    def _settled(self, tags: list[int], requeue: bool) -> tuple[list[int], list[int]]:
        """Count one delivery done per entry of ``tags``; return the tags now complete, as
        (to ack, to requeue)."""
        ack, again = [], []
        for tag in tags:
            left = self.parts.get(tag)
            if left is None:
                continue
            if requeue:
                self.requeued.add(tag)
            if left > 1:
                self.parts[tag] = left - 1
                continue
            del self.parts[tag]
            if tag in self.requeued:
                self.requeued.discard(tag)
                again.append(tag)
            else:
                ack.append(tag)
        return ack, again

    def ack(self, tags: list[int]) -> None:
        """One entry per delivery done (a bundle's tag appears once per delivery)."""
        self._finish(*self._settled(tags, requeue=False))

    def requeue(self, tags: list[int]) -> None:
        """These deliveries must come again: their message goes back once it is complete."""
        self._finish(*self._settled(tags, requeue=True))

    def dead_letter(self, tag: int) -> None:
        """An unreadable message, whole: to the dead-letter queue, never retried."""
        self.parts.pop(tag, None)
        self._finish([], [], dead=[tag])

    def _finish(self, ack: list[int], again: list[int], dead: Sequence[int] = ()) -> None:
        if not self.alive:
            return  # stale tags: the broker will redeliver, the claim will skip them
        for tags, requeue in ((again, True), (dead, False)):
            for tag in tags:
                self.ch.basic_nack(tag, requeue=requeue)
            for tag, multiple in self.acks.finish(list(tags), rejected=True):
                self.ch.basic_ack(tag, multiple=multiple)
        for tag, multiple in self.acks.finish(ack):
            self.ch.basic_ack(tag, multiple=multiple)


class Session:
    """One connection: a consuming channel per lane, a publisher, the consumer tags."""

    def __init__(self, amqp: AsyncAmqp, lanes: dict[tuple[str, str], Lane],
                 publisher: ConfirmingPublisher, names: Names):
        self.amqp, self.publisher, self.names = amqp, publisher, names
        self.lanes = lanes  # (lane, kind) → Lane
        self.consumers: dict[str, list[tuple[Lane, str]]] = {}  # channel → (lane, tag)

    @property
    def alive(self) -> bool:
        return self.amqp.is_open


def ack_items(items: Sequence[Item]) -> None:
    """Each item's delivery done: its lane acks what is complete."""
    by_lane: dict[int, tuple[Lane, list[int]]] = {}
    for item in items:
        by_lane.setdefault(id(item.lane), (item.lane, []))[1].append(item.tag)
    for lane, tags in by_lane.values():
        lane.ack(tags)


def requeue_items(items: Sequence[Item]) -> None:
    """These deliveries must come again (the claim skips those already final)."""
    for item in items:
        item.lane.requeue([item.tag])
