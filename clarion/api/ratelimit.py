"""A token bucket per API key, in this process (requests per second, burst of one second).

A request that carries an ``Idempotency-Key`` is a *ticket*: only the first request with a
given ticket spends a token; its repeats (concurrent or later) replay the first answer and
create nothing, so they never count against the rate.  Tickets are remembered per process
for ``TICKET_SECONDS`` (at most ``MAX_TICKETS`` of them); the API also skips the charge for a
repeat whose first request is already on record (``idempotency.seen``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

TICKET_SECONDS = 600.0
MAX_TICKETS = 100_000


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._tickets: OrderedDict[tuple[str, str], float] = OrderedDict()  # -> first seen
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, now: float | None = None,
             ticket: str | None = None) -> float | None:
        """Spend one token (none for a ticket already charged); None if allowed, else the
        seconds until a token is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if ticket is not None and self._charged(key, ticket, now):
                return None
            wait = self._spend(key, rate, now)
            if wait is None and ticket is not None:
                self._tickets[key, ticket] = now
            return wait

    def _charged(self, key: str, ticket: str, now: float) -> bool:
        """Whether this ticket already paid, forgetting tickets past their time or room."""
        while self._tickets and (len(self._tickets) > MAX_TICKETS or
                                 next(iter(self._tickets.values())) < now - TICKET_SECONDS):
            self._tickets.popitem(last=False)
        return (key, ticket) in self._tickets

    def _spend(self, key: str, rate: float, now: float) -> float | None:
        rate = max(rate, 0.001)
        capacity = max(rate, 1.0)
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / rate
