"""Declare exchanges and queues idempotently at start (publishers and workers both do)."""

from __future__ import annotations

from typing import Iterable

from ..settings import Settings
from .amqp import AsyncAmqp
from .names import LANES, Names


def _queue_args(settings: Settings, names: Names) -> dict:
    return {"x-dead-letter-exchange": names.dead, **replicated(settings)}


def replicated(settings: Settings) -> dict:
    """Quorum queues are replicated over the cluster's nodes (a majority of them must be up)."""
    return {"x-queue-type": "quorum"} if settings.queue_type == "quorum" else {}


def _retry_args(settings: Settings, names: Names, delay: int) -> dict:
    args = {"x-message-ttl": delay * 1000, "x-dead-letter-exchange": names.requeue}
    if settings.queue_type == "quorum":
        # at-least-once: a retry queue keeps each message until its channel's queue has taken
        # it back (at-most-once would drop it while that queue elects a new leader)
        args.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
    return {**args, **replicated(settings)}


async def declare(amqp: AsyncAmqp, settings: Settings, channels: Iterable[str]) -> Names:
    """Exchanges, the retry ladder, the dead-letter queue and each channel's queues: two lanes,
    each for single deliveries and for bundles."""
    names = Names(settings.broker_namespace)
    ch = await amqp.channel()
    try:
        for exchange, kind in ((names.deliveries, "topic"), (names.retry, "topic"),
                               (names.requeue, "topic"), (names.dead, "fanout")):
            await amqp.call(ch.exchange_declare, exchange=exchange, exchange_type=kind,
                            durable=True)
        await amqp.call(ch.queue_declare, queue=names.dead, durable=True,
                        arguments=replicated(settings))
        await amqp.call(ch.queue_bind, queue=names.dead, exchange=names.dead, routing_key="#")
        for delay in settings.retry_delays:
            q = names.retry_queue(delay)
            await amqp.call(ch.queue_declare, queue=q, durable=True,
                            arguments=_retry_args(settings, names, delay))
            await amqp.call(ch.queue_bind, queue=q, exchange=names.retry,
                            routing_key=f"{delay}s.#")
        for channel in channels:
            await declare_channel(amqp, ch, settings, names, channel)
    finally:
        if ch.is_open:
            ch.close()
    return names


async def declare_channel(amqp: AsyncAmqp, ch, settings: Settings, names: Names,
                          channel: str) -> None:
    for lane in LANES:
        q = names.queue(channel, lane)
        await amqp.call(ch.queue_declare, queue=q, durable=True,
                        arguments=_queue_args(settings, names))
        key = names.routing_key(channel, lane)
        await amqp.call(ch.queue_bind, queue=q, exchange=names.deliveries, routing_key=key)
        await amqp.call(ch.queue_bind, queue=q, exchange=names.requeue, routing_key=f"*.{key}")
        # a campaign's bundles: their own queue, so a worker can take few of them at a time
        bulk = names.queue(channel, lane, "bulk")
        await amqp.call(ch.queue_declare, queue=bulk, durable=True,
                        arguments=_queue_args(settings, names))
        await amqp.call(ch.queue_bind, queue=bulk, exchange=names.deliveries,
                        routing_key=names.bulk_key(channel, lane))
