"""The scheduler: deliveries wait in a buffer per lane, gather into batches of one channel
(provider-sized where the adapter takes more per call), urgent ones first; after urgent work
normal work is held a moment so an emergency's next chunk does not queue behind a backlog.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from ..broker.names import LANES
from .lanes import Item
from .sizing import Sizing

# After urgent deliveries the worker waits this long for more before it starts normal work
# again: an emergency reaches the queue in chunks, and the backlog must not slip into the gaps
# between them.  Never longer than URGENT_HOLD_MAX in a row, so a trickle of urgent messages
# cannot starve the normal lane.
URGENT_GRACE = 1.0
URGENT_HOLD_MAX = 2.0
BATCHES_IN_FLIGHT = 4
TICK = 0.005

RunBatch = Callable[[list[Item]], Awaitable[None]]


class Scheduler:
    def __init__(self, sizing: Sizing, run_batch: RunBatch, stopping: asyncio.Event):
        self.sizing, self.run_batch, self.stopping = sizing, run_batch, stopping
        self.buffers: dict[str, deque[Item]] = {lane: deque() for lane in LANES}
        self.wakeup = asyncio.Event()
        self.slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        self.in_flight: set[asyncio.Task] = set()
        self.held: dict[str | None, int] = {}  # channel → its deliveries in flight (unacked)
        self.last_urgent = float("-inf")  # when an urgent delivery last arrived (monotonic)
        self.holding_since: float | None = None  # normal work held back since

    def accept(self, lane: str, items: Iterable[Item]) -> None:
        """Deliveries of one message, for ``lane`` (urgent or normal)."""
        if lane == "urgent":
            self.last_urgent = time.monotonic()
        self.buffers[lane].extend(items)
        self.wakeup.set()

    def forget(self) -> None:
        """The connection is gone: buffered tags are stale (the broker redelivers them)."""
        for buf in self.buffers.values():
            buf.clear()

    @property
    def busy(self) -> bool:
        return bool(self.in_flight or any(self.buffers.values()))

    async def dispatch(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while any(self.buffers.values()):
                await self.gather()
                await self.slots.acquire()
                await self.hold_normal()
                batch = self.take_batch()
                if not batch:
                    self.slots.release()
                    break
                self._start(batch)

    def _start(self, batch: list[Item]) -> None:
        if batch[0].msg is None or batch[0].msg.lane != "urgent":
            self.holding_since = None
        task = asyncio.create_task(self._run(batch))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _run(self, batch: list[Item]) -> None:
        channel = next((i.msg.channel for i in batch if i.msg is not None), None)
        self.held[channel] = self.held.get(channel, 0) + len(batch)
        try:
            await self.run_batch(batch)
        finally:
            self.held[channel] -= len(batch)
            self.slots.release()

    def head_channel(self) -> str | None:
        head = next((buf[0] for buf in (self.buffers[lane] for lane in LANES) if buf), None)
        return head.msg.channel if head is not None and head.msg is not None else None

    def take_batch(self) -> list[Item]:
        """Up to one batch for the channel at the head (urgent lane first); deliveries of
        other channels keep their places for the next batch."""
        channel = self.head_channel()
        size = self.sizing.batch_size(channel)
        batch: list[Item] = []
        for lane in LANES:  # urgent first
            buf, others = self.buffers[lane], []
            while buf and len(batch) < size:
                item = buf.popleft()
                mine = item.msg is None or item.msg.channel == channel
                (batch if mine else others).append(item)
            buf.extendleft(reversed(others))
        return batch

    async def gather(self) -> None:
        """Let a burst of deliveries gather while it keeps arriving, up to one batch: a pause
        of five 5 ms ticks (forty for a provider-sized batch) or 250 ms in all (1 s) end
        it; the urgent lane waits one tick at most.  While the channel's prefetch window is
        full of our own unacked work nothing can arrive until we ack, so that is no pause."""
        channel = self.head_channel()
        target = self.sizing.batch_size(channel)
        patience, limit = self._patience(target)
        deadline = time.monotonic() + limit
        window = self.sizing.window(channel)
        seen, idle = self._buffered(), 0
        while seen < target and idle < patience and time.monotonic() < deadline:
            await asyncio.sleep(TICK)
            n = self._buffered()
            window_full = self.held.get(channel, 0) + n >= window
            seen, idle = n, (0 if n > seen or window_full else idle + 1)

    def _patience(self, target: int) -> tuple[int, float]:
        """(idle ticks, seconds in all) a batch may wait to fill."""
        if self.buffers["urgent"]:
            return 1, TICK
        big = target > self.sizing.settings.worker_batch_size
        return (40, 1.0) if big else (5, 0.25)

    def _buffered(self) -> int:
        return sum(map(len, self.buffers.values()))

    async def hold_normal(self) -> None:
        """Before a normal batch: if urgent deliveries arrived within ``URGENT_GRACE``, wait
        for more of them (they go first), at most ``URGENT_HOLD_MAX`` in a row."""
        while not self.buffers["urgent"] and not self.stopping.is_set():
            now = time.monotonic()
            if now - self.last_urgent >= URGENT_GRACE:
                return
            if self.holding_since is None:
                self.holding_since = now
            elif now - self.holding_since >= URGENT_HOLD_MAX:
                return
            await asyncio.sleep(TICK)
