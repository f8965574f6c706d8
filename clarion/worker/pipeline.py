"""The pipeline of one batch: claim → send → decide → record (with the next channel of a
fallback route, in the same transaction) → retry → ack.

Nothing is acked before its result is committed.  A local channel (the inbox) has nothing to
send: its rows are written by the pipeline itself, claimed and recorded ``sent`` in one
transaction.  A batch that fails is left to redelivery (the claim skips what is final).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy.exc import OperationalError

from ..broker.amqp import BrokerUnavailable
from ..broker.message import DeliveryMessage
from ..channels.base import Channel, SendResult
from ..planning import fallback
from ..settings import Settings
from ..store.db import Store
from ..store.protocol import Claim, Writer
from ..store.protocol import Outcome as Recorded
from .decide import Decision, decide
from .lanes import Item, Session, ack_items, requeue_items
from .middleware import Middleware
from .sender import Sender

log = logging.getLogger("clarion.worker")
NOT_CLAIMABLE = "not_claimable"
Pause = Callable[[str, float], None]
RECORD_PATIENCE_S = 60.0  # how long results already sent wait for the database
DATABASE_DOWN = (OperationalError, psycopg.OperationalError)  # through SQLAlchemy, or raw


def by_channel(items: Sequence[Item]) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {}
    for item in items:
        out.setdefault(item.msg.channel, []).append(item)  # type: ignore[union-attr]
    return out


def first_copies(items: Sequence[Item]) -> list[Item]:
    """One item per delivery (a message published twice arrives twice)."""
    return list({i.msg.id: i for i in items}.values())  # type: ignore[union-attr]


class Pipeline:
    def __init__(self, settings: Settings, store: Store, adapters: Mapping[str, Channel],
                 writer: Writer, middleware: Middleware, worker_id: str, pause: Pause):
        self.settings, self.store, self.adapters = settings, store, adapters
        self.writer, self.middleware, self.worker_id = writer, middleware, worker_id
        self.sender = Sender(adapters, middleware)
        self.pause = pause
        self.handled = 0

    async def run(self, batch: list[Item]) -> None:
        """One batch, whatever happens: a batch must never kill the worker."""
        channel = next((i.msg.channel for i in batch if i.msg is not None), None)
        self.middleware.before_batch(channel, len(batch))
        try:
            await self.process(batch)
        except Exception:  # noqa: BLE001 - left to redelivery
            log.exception("batch of %d failed; leaving it to redelivery", len(batch))
            requeue_items(batch)
        finally:
            self.middleware.after_batch(channel, len(batch))

    async def process(self, batch: list[Item]) -> None:
        items = self._without_poison(batch)
        if not items:
            return
        local = [i for i in items if self._is_local(i.msg.channel)]  # type: ignore[union-attr]
        remote = [i for i in items if not self._is_local(i.msg.channel)]  # type: ignore[union-attr]
        claims, chosen = await self._claim(remote)
        await asyncio.gather(*(self._send_remote(ch, group, claims)
                               for ch, group in by_channel(chosen).items()),
                             *(self._send_local(ch, group)
                               for ch, group in by_channel(local).items()))
        ack_items(items)
        self.handled += len(items)

    def _is_local(self, channel: str) -> bool:
        return getattr(self.adapters.get(channel), "local", False)

    def _without_poison(self, batch: list[Item]) -> list[Item]:
        """Unreadable messages go to the dead-letter queue, never retried."""
        poison = [i for i in batch if i.msg is None]
        for item in poison:
            item.lane.dead_letter(item.tag)
        if poison:
            self.middleware.after_dead_letter(len(poison))
        return [i for i in batch if i.msg is not None]

    async def _claim(self, remote: list[Item]) -> tuple[dict[str, Claim], list[Item]]:
        """Claim the deliveries; returns the claims and one item per claimed delivery (the
        rest are already final, cancelled, or another copy is being sent: only acked)."""
        if not remote:
            return {}, []
        ids = [i.msg.id for i in remote]  # type: ignore[union-attr]
        again = [i.msg.id for i in remote if i.redelivered]  # type: ignore[union-attr]
        claims = await self.writer.write(self.store.claim(ids, again, self.worker_id))
        chosen = [i for i in first_copies(remote) if i.msg.id in claims]  # type: ignore[union-attr]
        for channel, group in by_channel(remote).items():
            taken = sum(1 for i in chosen if i.msg.channel == channel)  # type: ignore[union-attr]
            self.middleware.after_skip(channel, NOT_CLAIMABLE, len(group) - taken)
        return claims, chosen

    async def _send_remote(self, channel: str, items: list[Item],
                           claims: dict[str, Claim]) -> None:
        started = time.perf_counter()
        results = await self.sender.send_all(channel, [i.msg.outbound() for i in items])  # type: ignore[union-attr]
        await self._conclude(channel, items, claims, results,
                             (time.perf_counter() - started) * 1000)

    async def _send_local(self, channel: str, items: list[Item]) -> None:
        """Claim, write the rows and record ``sent`` in one transaction."""
        firsts = first_copies(items)
        messages = {i.msg.id: i.msg for i in firsts}  # type: ignore[union-attr]
        started = time.perf_counter()
        rows = self.adapters[channel].rows([m.outbound() for m in messages.values()])  # type: ignore[attr-defined]
        again = [i.msg.id for i in items if i.redelivered]  # type: ignore[union-attr]
        per_ms = round((time.perf_counter() - started) * 1000 / max(len(firsts), 1), 3)
        done = await self.writer.write(self.store.record_local_sends(
            list(messages), again, self.worker_id, per_ms, rows))
        decision = Decision(record=[Recorded(i, "sent", n, duration_ms=per_ms)
                                    for i, n in done.items()], counts={"sent": len(done)})
        self.middleware.after_record(channel, decision, messages)
        self.middleware.after_skip(channel, NOT_CLAIMABLE, len(items) - len(done))

    async def _conclude(self, channel: str, items: list[Item], claims: dict[str, Claim],
                        results: list[SendResult], elapsed_ms: float) -> None:
        """Record the results (and the next channel of a route), then queue the retries."""
        if not items:
            return
        messages = {i.msg.id: i.msg for i in items}  # type: ignore[union-attr]
        attempts = {i: c.attempts for i, c in claims.items() if i in messages}
        d = decide(messages, attempts, results, self.settings.retry_delays,
                   self.settings.max_attempts, round(elapsed_ms / max(len(items), 1), 3))
        nexts = await self._record(d.record) if d.record else []
        session = items[0].session
        await publish_retries(session, d.retry)
        if nexts:
            await fallback.send_next(self.store, session.publisher, nexts, self.worker_id)
        self.middleware.after_record(channel, d, messages)
        if d.stopped_for:
            self.pause(channel, d.stopped_for)

    async def _record(self, outcomes: list[Recorded]) -> list[dict[str, Any]]:
        """Results committed; those failed for good with a route left get their next
        delivery in the same transaction (returned, to publish)."""
        write = self.store.record_results(outcomes, self.worker_id)
        failed = [r for r in outcomes if r.status == "failed"]
        if failed:
            write = fallback.following(self.store, write, failed, self.worker_id)
        return await self._committed(write) or []

    async def _committed(self, write: Any) -> Any:
        """What was sent must be recorded, not given back to be sent again: a database that
        restarts (or fails over) is waited for, up to ``RECORD_PATIENCE_S``."""
        deadline = time.monotonic() + RECORD_PATIENCE_S
        while True:
            try:
                return await self.writer.write(write)
            except DATABASE_DOWN as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("recording results failed (%s); trying again", type(exc).__name__)
                await asyncio.sleep(1)


async def publish_retries(session: Session, retries: list[tuple[DeliveryMessage, int]]
                          ) -> None:
    if not retries:
        return
    if not session.alive:
        raise BrokerUnavailable("connection lost before retries were published")
    futures = [session.publisher.publish_retry(msg, delay) for msg, delay in retries]
    await session.publisher.confirm(futures)


