"""Every exchange, queue and routing key, derived from one namespace.

    {ns}.deliveries   topic   "<channel>.<lane>"            -> {ns}.q.<channel>[.urgent]
                      "<channel>.<lane>.bulk"       -> {ns}.q.<channel>[.urgent].bulk
    {ns}.retry        topic   "<delay>s.<channel>.<lane>"   -> {ns}.retry.<delay>s (TTL)
    {ns}.requeue      topic   dead-letter target of the retry queues, "*.<channel>.<lane>"
    {ns}.dead         fanout  dead-letter target of the channel queues -> {ns}.dead
    {ns}.campaign-runs        queue of the campaign runners (default exchange)
"""

from __future__ import annotations

from dataclasses import dataclass

LANES = ("urgent", "normal")
# "single": one delivery per message (the API, retries); "bulk": a campaign's bundle of many
KINDS = ("single", "bulk")


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

    @property
    def campaign_runs(self) -> str:
        """Broadcast requests for the campaign runners (clarion.runner)."""
        return f"{self.ns}.campaign-runs"

    def queue(self, channel: str, lane: str, kind: str = "single") -> str:
        return (f"{self.ns}.q.{channel}" + (".urgent" if lane == "urgent" else "")
                + (".bulk" if kind == "bulk" else ""))

    def queues(self, channel: str) -> list[str]:
        """Every queue of one channel: each lane, each kind."""
        return [self.queue(channel, lane, kind) for lane in LANES for kind in KINDS]

    def retry_queue(self, delay_s: int) -> str:
        return f"{self.ns}.retry.{delay_s}s"

    @staticmethod
    def routing_key(channel: str, lane: str) -> str:
        return f"{channel}.{lane}"

    @staticmethod
    def bulk_key(channel: str, lane: str) -> str:
        return f"{channel}.{lane}.bulk"

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
