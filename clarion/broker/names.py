"""Every exchange, queue and routing key, derived from one namespace.

    {ns}.deliveries   topic   "<channel>.<lane>"            -> {ns}.q.<channel>[.urgent]
    {ns}.retry        topic   "<delay>s.<channel>.<lane>"   -> {ns}.retry.<delay>s (TTL)
    {ns}.requeue      topic   dead-letter target of the retry queues, "*.<channel>.<lane>"
    {ns}.dead         fanout  dead-letter target of the channel queues -> {ns}.dead
"""

from __future__ import annotations

from dataclasses import dataclass

LANES = ("urgent", "normal")


@dataclass(frozen=True)
class Names:
    ns: str

    @property
    def deliveries(self) -> str:
        return f"{self.ns}.deliveries"

    @property
    def retry(self) -> str:
        return f"{self.ns}.retry"

    @property
    def requeue(self) -> str:
        return f"{self.ns}.requeue"

    @property
    def dead(self) -> str:
        return f"{self.ns}.dead"

    def queue(self, channel: str, lane: str) -> str:
        return f"{self.ns}.q.{channel}" + (".urgent" if lane == "urgent" else "")

    def retry_queue(self, delay_s: int) -> str:
        return f"{self.ns}.retry.{delay_s}s"

    @staticmethod
    def routing_key(channel: str, lane: str) -> str:
        return f"{channel}.{lane}"

    @staticmethod
    def retry_key(delay_s: int, channel: str, lane: str) -> str:
        return f"{delay_s}s.{channel}.{lane}"


def pick_delay(delays: list[int], attempt: int, retry_after: float | None) -> int:
    """The retry tier: growing with the attempt, and never sooner than the provider asked."""
    base = delays[min(max(attempt - 1, 0), len(delays) - 1)]
    if retry_after is None:
        return base
    fitting = [d for d in delays if d >= retry_after]
    return max(base, fitting[0] if fitting else delays[-1])
