"""A token bucket per API key, in this process (requests per second, burst of one second)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, now: float | None = None) -> float | None:
        """Spend one token; None if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        rate = max(rate, 0.001)
        capacity = max(rate, 1.0)
        with self._lock:
            tokens, at = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate
