"""One logical channel served by two provider accounts: a primary and a fallback.

Messages go to the primary.  Those it answers STOPPED (the *account* can't send: daily quota,
balance, refused signature) go to the fallback in the same call, and while the primary is
known to be stopped (until the retry-after it gave) every message goes straight to the
fallback.  Results keep the answering provider's own codes; the fallback's carry ``via``.
Only when both are stopped does the worker see STOPPED (and pause the channel until the
first of the two can send again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from .base import (
    BaseChannel, Channel, ChannelError, OutboundMessage, Outcome, RetryableError, SendResult,
    results_for_all,
)

log = logging.getLogger("clarion.channels.failover")
DEFAULT_STOP = 600.0  # seconds, when a stopped primary did not say for how long
MIN_PAUSE = 1.0


class FailoverChannel(BaseChannel):
    def __init__(self, primary: Channel, fallback: Channel, fallback_label: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.primary, self.fallback = primary, fallback
        self.name = primary.name  # type: ignore[misc]
        self.max_batch = min(primary.max_batch, fallback.max_batch)  # type: ignore[misc]
        self.label = fallback_label or fallback.name
        # what the rate limiter reads of an adapter: the primary's account sets the pace
        self.one_call_per_content = getattr(primary, "one_call_per_content", False)
        self.default_rate_limits = getattr(primary, "default_rate_limits", None)
        self.default_per_recipient_limits = getattr(primary, "default_per_recipient_limits",
                                                    None)
        self._clock = clock
        self._primary_stopped_until = 0.0

    @property
    def primary_stopped_for(self) -> float:
        """Seconds the primary is still known to be stopped (0 when it may be tried)."""
        return max(0.0, self._primary_stopped_until - self._clock())

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        if self.primary_stopped_for:
            return await self._to_fallback(messages)
        results = await _attempt(self.primary, messages)
        stopped = [r for r in results if r.outcome is Outcome.STOPPED]
        if not stopped:
            return results
        self._remember_stop(stopped)
        moved = {r.delivery_id for r in stopped}
        kept = [r for r in results if r.delivery_id not in moved]
        return kept + await self._to_fallback([m for m in messages if m.delivery_id in moved])

    def _remember_stop(self, stopped: list[SendResult]) -> None:
        wait = max(r.retry_after or DEFAULT_STOP for r in stopped)
        self._primary_stopped_until = self._clock() + wait
        log.warning("%s stopped (%s) for %.0fs: sending through %s", self.primary.name,
                    stopped[0].code, wait, self.label)

    async def _to_fallback(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        if not messages:
            return []
        try:
            results = await _attempt(self.fallback, messages)
        except Exception as exc:  # noqa: BLE001 - the primary's results of this call must stand
            log.exception("fallback %s raised", self.label)
            results = results_for_all(
                messages, RetryableError(f"fallback error: {type(exc).__name__}"))
        primary_wait = self.primary_stopped_for
        return [self._mark(r, primary_wait) for r in results]

    def _mark(self, result: SendResult, primary_wait: float) -> SendResult:
        if result.outcome is not Outcome.STOPPED:
            return replace(result, via=self.label)
        # both stopped: the channel can send again as soon as either of them can
        waits = [w for w in (primary_wait, result.retry_after) if w]
        pause = max(MIN_PAUSE, min(waits or [DEFAULT_STOP]))
        return replace(result, via=self.label, retry_after=pause)

    async def aclose(self) -> None:
        await self.primary.aclose()
        await self.fallback.aclose()


async def _attempt(adapter: Channel, messages: Sequence[OutboundMessage]) -> list[SendResult]:
    try:
        return await adapter.send(messages)
    except ChannelError as exc:
        return results_for_all(messages, exc)
