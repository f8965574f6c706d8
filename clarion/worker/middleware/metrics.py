"""Prometheus counters of a worker (clarion.metrics), updated from the hooks."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ... import metrics
from ...broker.message import DeliveryMessage
from ...channels.base import Channel, ChannelError, SendResult
from ..decide import Decision
from .base import Middleware, SendCall

OUTCOMES = ("sent", "failed", "retried", "stopped")


class Metrics(Middleware):
    def after_start(self, adapters: Mapping[str, Channel]) -> None:
        for name in adapters:  # series start at 0, so rate() sees the first event
            for outcome in OUTCOMES:
                metrics.DELIVERIES.labels(name, outcome)
            metrics.ACCOUNT_STOPPED.labels(name).set(0)

    def before_batch(self, channel: str | None, size: int) -> None:
        metrics.IN_FLIGHT.inc(size)

    def after_batch(self, channel: str | None, size: int) -> None:
        metrics.IN_FLIGHT.dec(size)

    def after_skip(self, channel: str, reason: str, n: int) -> None:
        if n:
            metrics.SKIPS.labels(channel, reason).inc(n)

    def after_dead_letter(self, n: int) -> None:
        metrics.DELIVERIES.labels("unknown", "dead_lettered").inc(n)

    def after_send(self, call: SendCall, results: Sequence[SendResult], seconds: float,
                   error: BaseException | None) -> None:
        if isinstance(error, ChannelError):
            metrics.PROVIDER_ERRORS.labels(call.channel, error.outcome.value,
                                           error.code or "").inc()
        metrics.PROVIDER_REQUEST.labels(call.channel).observe(seconds)

    def after_record(self, channel: str, decision: Decision,
                     messages: Mapping[str, DeliveryMessage]) -> None:
        for label, n in decision.counts.items():
            metrics.DELIVERIES.labels(channel, label).inc(n)
        now = time.time()
        hist = metrics.DELIVERY_LATENCY.labels(channel)
        for rec in decision.record:
            if rec.status in ("sent", "failed"):
                hist.observe(max(0.0, now - messages[rec.id].enqueued_at))
            if rec.status == "failed" and rec.code:
                metrics.PROVIDER_ERRORS.labels(channel, "permanent", rec.code).inc()

    def after_pause(self, channel: str, seconds: float) -> None:
        metrics.ACCOUNT_STOPPED.labels(channel).set(1)

    def after_resume(self, channel: str) -> None:
        metrics.ACCOUNT_STOPPED.labels(channel).set(0)
