"""``clarion worker``: consume with prefetch, claim, send in batches, record, then ack.

One asyncio loop runs pika's AsyncioConnection, the channel adapters (aiohttp, aiosmtplib)
and hands database work to a small thread pool.  Urgent lanes are always served first.
Nothing is acked before its result is committed; a lost connection drops its stale tags
(the broker redelivers those messages and the claim step sees they are already final).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy.exc import OperationalError

from .. import metrics
from ..broker.amqp import AsyncAmqp, BrokerUnavailable
from ..broker.message import DeliveryMessage
from ..broker.names import KINDS, LANES, Names
from ..broker.publisher import ConfirmingPublisher
from ..broker.topology import declare
from ..channels.base import (
    Channel, ChannelError, ConfigurationError, Outcome, results_for_all,
)
from ..channels.registry import ChannelDeps, build_channel, channel_specs
from ..planning import fallback
from ..settings import Settings
from ..store import deliveries
from ..store.db import Store
from .acks import AckTracker
from .db_writer import GroupWriter
from .decide import Decision, decide
from .inbox_writer import InboxStash
from .ratelimit import Limiter

log = logging.getLogger("clarion.worker")

# After urgent deliveries the worker waits this long for more before it starts normal work
# again: an emergency reaches the queue in chunks, and the backlog must not slip into the gaps
# between them.  Never longer than URGENT_HOLD_MAX in a row, so a trickle of urgent messages
# cannot starve the normal lane.
URGENT_GRACE = 1.0
URGENT_HOLD_MAX = 2.0
RECORD_PATIENCE_S = 60.0  # how long results already sent wait for the database


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


class Worker:
    def __init__(self, settings: Settings, store: Store, channels: list[str] | None = None,
                 worker_id: str | None = None):
        self.settings = settings
        self.store = store
        self.worker_id = worker_id or f"worker:{socket.gethostname()}:{os.getpid()}"
        self.wanted = channels
        self.adapters: dict[str, Channel] = {}
        self.buffers: dict[str, deque[Item]] = {lane: deque() for lane in LANES}
        self.wakeup = asyncio.Event()
        self.stopping = asyncio.Event()
        # one database thread, committing what queued up while it waited (group commit)
        self.writer = GroupWriter(store)
        self.inbox = InboxStash()
        self.slots = asyncio.Semaphore(4)  # batches in flight
        self.in_flight: set[asyncio.Task] = set()
        self.held: dict[str | None, int] = {}  # channel → its deliveries in flight (unacked)
        self.last_urgent = float("-inf")  # when an urgent delivery last arrived (monotonic)
        self.holding_since: float | None = None  # normal work held back since
        self.paused_until: dict[str, float] = {}
        self.limiter = Limiter(store, settings)  # provider rate limits shared by all workers
        self.session: Session | None = None
        self.handled = 0

    # ---- start and stop ---------------------------------------------------------------------

    def build_adapters(self) -> None:
        deps = ChannelDeps(inbox_writer=self.inbox)
        names = self.wanted or list(channel_specs(self.settings))
        for name in names:
            try:
                self.adapters[name] = build_channel(self.settings, name, deps)
            except ConfigurationError as exc:
                if self.wanted:
                    raise
                log.info("channel %s not served: %s", name, exc.reason)
        if not self.adapters:
            raise ConfigurationError("no channel is configured for this worker")
        for name in self.adapters:  # series start at 0, so rate() sees the first event
            for outcome in ("sent", "failed", "retried", "stopped"):
                metrics.DELIVERIES.labels(name, outcome)
            metrics.ACCOUNT_STOPPED.labels(name).set(0)

    async def run(self) -> None:
        self.build_adapters()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
        dispatcher = asyncio.create_task(self._dispatch())
        try:
            await self._connect_loop()
        finally:
            dispatcher.cancel()
            for adapter in self.adapters.values():
                await adapter.aclose()
            self.writer.close()

    async def _connect_loop(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                amqp = await AsyncAmqp.connect(self.settings.broker_url.get_secret_value(),
                                               _ca(self.settings))
            except (BrokerUnavailable, OSError, asyncio.TimeoutError) as exc:
                log.warning("broker unavailable (%s); retrying in %.1fs", exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            backoff = 0.5
            try:
                await self._serve(amqp)
            except BrokerUnavailable as exc:
                log.warning("broker connection lost: %s", exc)
            finally:
                self._forget_session()
                await amqp.close()

    async def _serve(self, amqp: AsyncAmqp) -> None:
        names = await declare(amqp, self.settings, self.adapters)
        lanes = {}
        for lane in LANES:
            for kind in KINDS:
                ch = await amqp.channel(on_close=self._lane_closed(amqp))
                if kind == "single":  # bundles: a prefetch per consumer, set in _consume
                    await amqp.call(ch.basic_qos, prefetch_count=self._prefetch())
                lanes[lane, kind] = Lane(amqp, ch, kind)
        publisher = await ConfirmingPublisher(amqp, names).open()
        self.session = Session(amqp, lanes, publisher, names)
        for channel in self.adapters:
            if self.paused_until.get(channel, 0) <= time.time():
                self._consume(channel)
        log.info("%s consuming %s", self.worker_id, ", ".join(self.adapters))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({stop, amqp.closed}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if self.stopping.is_set():
            await self._drain()

    @staticmethod
    def _lane_closed(amqp: AsyncAmqp):  # type: ignore[no-untyped-def]
        """A lane's channel closed by the broker (a consumer timeout, say) would leave that
        lane unserved: close the connection instead, and the worker reconnects."""
        def on_close(_ch, reason) -> None:  # type: ignore[no-untyped-def]
            if amqp.is_open:
                log.warning("a consuming channel closed (%s); reconnecting", reason)
                amqp.conn.close()
        return on_close

    def _consume(self, channel: str) -> None:
        s = self.session
        if s is None or not s.alive or channel in s.consumers:
            return
        pairs = []
        for (lane, kind), lane_ch in s.lanes.items():
            if kind == "bulk":  # applies to the consumer made next (pika runs these in order)
                lane_ch.ch.basic_qos(prefetch_count=self._bulk_prefetch(channel))
            pairs.append((lane_ch, lane_ch.ch.basic_consume(
                s.names.queue(channel, lane, kind), self._on_message(s, lane_ch))))
        s.consumers[channel] = pairs
        metrics.ACCOUNT_STOPPED.labels(channel).set(0)

    def _pause(self, channel: str, seconds: float) -> None:
        """An account-level stop: stop taking this channel's messages for a while."""
        self.paused_until[channel] = time.time() + seconds
        metrics.ACCOUNT_STOPPED.labels(channel).set(1)
        s = self.session
        if s is not None and s.alive:
            for lane, tag in s.consumers.pop(channel, []):
                lane.ch.basic_cancel(tag)
        asyncio.get_running_loop().call_later(seconds, self._consume, channel)
        log.warning("channel %s paused for %.0fs (account stopped)", channel, seconds)

    def _forget_session(self) -> None:
        self.session = None
        for lane in LANES:
            self.buffers[lane].clear()  # their tags are stale; the broker redelivers them

    async def _drain(self) -> None:
        """SIGTERM: stop consuming, finish what is in hand, ack it, then close."""
        s = self.session
        if s is not None and s.alive:
            for pairs in s.consumers.values():
                for lane, tag in pairs:
                    lane.ch.basic_cancel(tag)
            s.consumers.clear()
        deadline = time.time() + 30
        while (self.in_flight or any(self.buffers.values())) and time.time() < deadline:
            self.wakeup.set()
            await asyncio.sleep(0.05)
        log.info("%s stopped after handling %d deliveries", self.worker_id, self.handled)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    # ---- consuming ----------------------------------------------------------------------------

    def _on_message(self, session: Session, lane_ch: Lane):
        def on_message(_ch, method, properties, body) -> None:  # type: ignore[no-untyped-def]
            tag = method.delivery_tag
            try:
                decoded = DeliveryMessage.decode(body, properties)
                lane = decoded[0].lane if decoded[0].lane in self.buffers else "normal"
                msgs: list[DeliveryMessage | None] = list(decoded)
            except Exception:  # noqa: BLE001 - whatever is unreadable is dead-lettered, whole
                msgs, lane = [None], "normal"  # (an exception here would abort the connection)
            lane_ch.received(tag, len(msgs))
            if lane == "urgent":
                self.last_urgent = time.monotonic()
            self.buffers[lane].extend(Item(tag, msg, method.redelivered, lane_ch, session)
                                      for msg in msgs)
            self.wakeup.set()
        return on_message

    def _batch_size(self, channel: str | None) -> int:
        """A provider-sized batch for adapters taking more per call than the worker batch."""
        adapter = self.adapters.get(channel) if channel else None
        return max(self.settings.worker_batch_size, getattr(adapter, "max_batch", 0))

    def _prefetch(self) -> int:
        """Per consumer: room for two full batches of the largest, so one gathers while
        the other is in flight."""
        return max([self.settings.worker_prefetch,
                    *(2 * self._batch_size(name) for name in self.adapters)])

    def _bulk_prefetch(self, channel: str) -> int:
        """Bundles per consumer: about two of the channel's batches, from one to four (the
        bundles' size is the fan-out's setting; kept within bounds should it differ here).
        One bundle of 500 for a channel of 200-delivery batches keeps what a worker holds
        unacked, and so what a crash can send twice, at the single lane's 500 (a floor of two
        was no faster: 0.946 side by side, docs/BENCHMARKS.md)."""
        bundle = self.settings.fanout_bundle
        return min(4, max(1, -(-2 * self._batch_size(channel) // bundle)))

    def _window(self, channel: str | None) -> int:
        """The most deliveries of ``channel`` the broker lets this worker hold unacked."""
        if channel is None:
            return self._prefetch()
        return max(self._prefetch(), self._bulk_prefetch(channel) * self.settings.fanout_bundle)

    def _head_channel(self) -> str | None:
        head = next((buf[0] for buf in (self.buffers[lane] for lane in LANES) if buf), None)
        return head.msg.channel if head is not None and head.msg is not None else None

    def _take_batch(self) -> list[Item]:
        """Up to one batch for the channel at the head (urgent lane first); deliveries of
        other channels keep their places for the next batch."""
        channel = self._head_channel()
        size = self._batch_size(channel)
        batch: list[Item] = []
        for lane in LANES:  # urgent first
            buf, others = self.buffers[lane], []
            while buf and len(batch) < size:
                item = buf.popleft()
                mine = item.msg is None or item.msg.channel == channel
                (batch if mine else others).append(item)
            buf.extendleft(reversed(others))
        return batch

    async def _gather(self) -> None:
        """Let a burst of deliveries gather while it keeps arriving, up to one batch: a pause
        of five 5 ms ticks (forty for a provider-sized batch) or 250 ms in all (1 s) end
        it; the urgent lane waits one tick at most.  While the channel's prefetch window is
        full of our own unacked work nothing can arrive until we ack, so that is no pause."""
        channel = self._head_channel()
        target = self._batch_size(channel)
        big = target > self.settings.worker_batch_size
        patience, limit = ((1, 0.005) if self.buffers["urgent"] else
                           (40, 1.0) if big else (5, 0.25))
        deadline = time.monotonic() + limit
        window = self._window(channel)
        seen, idle = sum(map(len, self.buffers.values())), 0
        while seen < target and idle < patience and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            n = sum(map(len, self.buffers.values()))
            window_full = self.held.get(channel, 0) + n >= window
            seen, idle = n, (0 if n > seen or window_full else idle + 1)

    async def _dispatch(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while any(self.buffers.values()):
                await self._gather()
                await self.slots.acquire()
                await self._hold_normal()
                batch = self._take_batch()
                if not batch:
                    self.slots.release()
                    break
                if batch[0].msg is None or batch[0].msg.lane != "urgent":
                    self.holding_since = None
                task = asyncio.create_task(self._run_batch(batch))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)

    async def _hold_normal(self) -> None:
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
            await asyncio.sleep(0.005)

    # ---- one batch: claim, send, record, retry, ack -----------------------------------------

    async def _run_batch(self, batch: list[Item]) -> None:
        metrics.IN_FLIGHT.inc(len(batch))
        channel = next((i.msg.channel for i in batch if i.msg is not None), None)
        self.held[channel] = self.held.get(channel, 0) + len(batch)
        try:
            await self._process(batch)
        except Exception:  # noqa: BLE001 - a batch must never kill the worker
            log.exception("batch of %d failed; leaving it to redelivery", len(batch))
            self._reject(batch)
        finally:
            metrics.IN_FLIGHT.dec(len(batch))
            self.held[channel] -= len(batch)
            self.slots.release()

    def _reject(self, batch: list[Item]) -> None:
        for item in batch:
            item.lane.requeue([item.tag])

    async def _db(self, fn, *args):  # type: ignore[no-untyped-def]
        """``fn(conn, *args)`` in a write transaction of this worker's database thread.  The
        big writes come prepared (``deliveries.prepare_*``): the lock is held for less."""
        return await self.writer.write(fn, *args)

    async def _process(self, batch: list[Item]) -> None:
        poison = [i for i in batch if i.msg is None]
        for item in poison:  # unreadable: to the dead-letter queue, never retried
            item.lane.dead_letter(item.tag)
            metrics.DELIVERIES.labels("unknown", "dead_lettered").inc()
        items = [i for i in batch if i.msg is not None]
        if not items:
            return
        local: list[Item] = []
        remote: list[Item] = []
        for item in items:
            is_local = getattr(self.adapters.get(item.msg.channel), "local", False)
            (local if is_local else remote).append(item)
        by_channel: dict[str, list[Item]] = {}
        claims = {}
        if remote:
            ids = [i.msg.id for i in remote]
            redelivered = [i.msg.id for i in remote if i.redelivered]
            claims = await self._db(deliveries.claim_in, ids, redelivered, self.worker_id)
            chosen: set[str] = set()
            for item in remote:  # one copy per delivery: a republished duplicate is only acked
                if item.msg.id in claims and item.msg.id not in chosen:
                    chosen.add(item.msg.id)
                    by_channel.setdefault(item.msg.channel, []).append(item)
                else:  # already final, cancelled, or another copy is being sent
                    metrics.SKIPS.labels(item.msg.channel, "not_claimable").inc()
        local_by_channel: dict[str, list[Item]] = {}
        for item in local:
            local_by_channel.setdefault(item.msg.channel, []).append(item)
        await asyncio.gather(*(self._send_channel(ch, group, claims)
                               for ch, group in by_channel.items()),
                             *(self._send_local(ch, group)
                               for ch, group in local_by_channel.items()))
        self._ack(items)

    def _ack(self, items: list[Item]) -> None:
        by_lane: dict[int, tuple[Lane, list[int]]] = {}
        for item in items:
            by_lane.setdefault(id(item.lane), (item.lane, []))[1].append(item.tag)
        for lane, tags in by_lane.values():
            lane.ack(tags)
        self.handled += len(items)

    async def _send_channel(self, channel: str, items: list[Item], claims) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        results = await self._send_all(channel, [i.msg.outbound() for i in items])
        await self._conclude(channel, items, claims, results,
                             (time.perf_counter() - started) * 1000)

    async def _send_all(self, channel: str, outbound: list) -> list:  # type: ignore[type-arg]
        adapter = self.adapters.get(channel)
        if adapter is None:
            err = ConfigurationError(f"channel {channel!r} is not configured on this worker")
            return results_for_all(outbound, err)
        results = []
        step = max(1, adapter.max_batch)
        parts = [outbound[k:k + step] for k in range(0, len(outbound), step)]
        for part_results in await asyncio.gather(*(self._call(adapter, channel, p)
                                                   for p in parts)):
            results.extend(part_results)
        return results

    async def _send_local(self, channel: str, items: list[Item]) -> None:
        """A local channel (the inbox): write, then claim and record what was written in one
        transaction; what it could not write goes the usual way (claim, decide, record)."""
        firsts = list({i.msg.id: i for i in items}.values())  # one copy per delivery
        messages = {i.msg.id: i.msg for i in firsts}
        started = time.perf_counter()
        results = await self._send_all(channel, [i.msg.outbound() for i in firsts])
        elapsed_ms = (time.perf_counter() - started) * 1000
        per_ms = round(elapsed_ms / max(len(firsts), 1), 3)
        sent = [r.delivery_id for r in results if r.outcome is Outcome.SENT]
        redelivered = [i.msg.id for i in items if i.redelivered]
        if sent:
            rows, wanted = self.inbox.take(sent), set(sent)
            done = await self._db(deliveries.prepare_sent_locally(
                self.store.dialect, sent, [i for i in redelivered if i in wanted],
                self.worker_id, per_ms, rows))
            d = Decision(record=[deliveries.Outcome(i, "sent", n, duration_ms=per_ms)
                                 for i, n in done.items()], counts={"sent": len(done)})
            self._observe(channel, d, messages)
            metrics.SKIPS.labels(channel, "not_claimable").inc(len(items) - len(done))
        self.inbox.drop(list(messages))
        others = [r for r in results if r.outcome is not Outcome.SENT]
        if others:
            ids = {r.delivery_id for r in others}
            claims = await self._db(deliveries.claim_in, list(ids),
                                    [i for i in redelivered if i in ids], self.worker_id)
            rest = [i for i in firsts if i.msg.id in claims]
            await self._conclude(channel, rest, claims,
                                 [r for r in others if r.delivery_id in claims], elapsed_ms)

    async def _conclude(self, channel: str, items: list[Item], claims, results: list,  # type: ignore[no-untyped-def]
                        elapsed_ms: float) -> None:
        """Record the results (and the inbox rows of those sent), then queue the retries."""
        if not items:
            return
        messages = {i.msg.id: i.msg for i in items}
        attempts = {i: c.attempts for i, c in claims.items() if i in messages}
        d = decide(messages, attempts, results, self.settings.retry_delays,
                   self.settings.max_attempts, round(elapsed_ms / max(len(items), 1), 3))
        sent = [r.id for r in d.record if r.status == "sent"]
        inbox_rows = self.inbox.take(sent)
        self.inbox.drop(list(messages))  # rows of deliveries that were not sent
        nexts = []
        if d.record:
            write = deliveries.prepare_record(self.store.dialect, d.record, self.worker_id,
                                              inbox_rows)
            failed = [r for r in d.record if r.status == "failed"]
            if failed:  # the next channel of a fallback route, in the same transaction
                write = fallback.following(write, failed, self.worker_id)
            nexts = await self._record(write) or []
        await self._publish_retries(items[0].session, d.retry)
        if nexts:
            await fallback.send_next(self.store, items[0].session.publisher, nexts,
                                     self.worker_id)
        self._observe(channel, d, messages)
        if d.stopped_for:
            self._pause(channel, d.stopped_for)

    async def _record(self, write):  # type: ignore[no-untyped-def]
        """What was sent must be recorded, not given back to be sent again: a database that
        restarts (or fails over) is waited for, up to ``RECORD_PATIENCE_S``."""
        deadline = time.monotonic() + RECORD_PATIENCE_S
        while True:
            try:
                return await self._db(write)
            except OperationalError as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("recording results failed (%s); trying again", type(exc).__name__)
                await asyncio.sleep(1)

    async def _call(self, adapter: Channel, channel: str, part) -> list:  # type: ignore[no-untyped-def]
        """The provider calls for ``part``, paced by the channel's rate limits."""
        return await self.limiter.paced(channel, adapter, part,
                                        lambda p: self._attempt(adapter, channel, p))

    async def _attempt(self, adapter: Channel, channel: str, part) -> list:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            results = await adapter.send(part)
        except ChannelError as exc:
            metrics.PROVIDER_ERRORS.labels(channel, exc.outcome.value, exc.code or "").inc()
            results = results_for_all(part, exc)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not lose deliveries
            log.exception("adapter %s raised", channel)
            from ..channels.base import RetryableError
            results = results_for_all(part, RetryableError(f"adapter error: {type(exc).__name__}"))
        metrics.PROVIDER_REQUEST.labels(channel).observe(time.perf_counter() - started)
        return results

    async def _publish_retries(self, session: Session, retries) -> None:  # type: ignore[no-untyped-def]
        if not retries:
            return
        if not session.alive:
            raise BrokerUnavailable("connection lost before retries were published")
        futures = [session.publisher.publish_retry(msg, delay) for msg, delay in retries]
        await session.publisher._confirmed(futures)

    def _observe(self, channel: str, d, messages) -> None:  # type: ignore[no-untyped-def]
        for label, n in d.counts.items():
            metrics.DELIVERIES.labels(channel, label).inc(n)
        now = time.time()
        hist = metrics.DELIVERY_LATENCY.labels(channel)
        for rec in d.record:
            if rec.status in ("sent", "failed"):
                hist.observe(max(0.0, now - messages[rec.id].enqueued_at))
            if rec.status == "failed" and rec.code:
                metrics.PROVIDER_ERRORS.labels(channel, "permanent", rec.code).inc()
            if rec.status != "sent":  # failures and retries are worth a line; sends are counted
                msg = messages[rec.id]
                log.info("delivery %s: %s", rec.status, rec.reason or rec.code or "",
                         extra={"delivery_id": rec.id, "campaign_id": msg.campaign_id,
                                "channel": channel, "code": rec.code, "attempt": rec.attempt})


def _ca(settings: Settings) -> str | None:
    return str(settings.broker_ca_file) if settings.broker_ca_file else None


def run_worker(settings: Settings, channels: list[str] | None = None) -> None:
    store = Store(settings.db_url)
    asyncio.run(Worker(settings, store, channels).run())
