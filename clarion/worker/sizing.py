"""How many deliveries a worker takes at a time: batches, prefetch windows, bundles."""

from __future__ import annotations

from collections.abc import Mapping

from ..channels.base import Channel
from ..settings import Settings


class Sizing:
    def __init__(self, settings: Settings, adapters: Mapping[str, Channel]):
        self.settings, self.adapters = settings, adapters

    def batch_size(self, channel: str | None) -> int:
        """A provider-sized batch for adapters taking more per call than the worker batch."""
        adapter = self.adapters.get(channel) if channel else None
        return max(self.settings.worker_batch_size, getattr(adapter, "max_batch", 0))

    def prefetch(self) -> int:
        """Per consumer: room for two full batches of the largest, so one gathers while
        the other is in flight."""
        return max([self.settings.worker_prefetch,
                    *(2 * self.batch_size(name) for name in self.adapters)])

    def bulk_prefetch(self, channel: str) -> int:
        """Bundles per consumer: about two of the channel's batches, from one to four (the
        bundles' size is the fan-out's setting; kept within bounds should it differ here).
        One bundle of 500 for a channel of 200-delivery batches keeps what a worker holds
        unacked, and so what a crash can send twice, at the single lane's 500 (a floor of two
        was no faster: 0.946 side by side, docs/BENCHMARKS.md)."""
        bundle = self.settings.fanout_bundle
        return min(4, max(1, -(-2 * self.batch_size(channel) // bundle)))

    def window(self, channel: str | None) -> int:
        """The most deliveries of ``channel`` the broker lets this worker hold unacked."""
        if channel is None:
            return self.prefetch()
        return max(self.prefetch(), self.bulk_prefetch(channel) * self.settings.fanout_bundle)
