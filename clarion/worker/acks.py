"""Ack bookkeeping for one AMQP channel.

A delivery tag may be acked only after its result is committed.  Work finishes out of order,
so: ack with ``multiple=True`` up to the highest tag below which everything is finished, and
ack finished tags above a gap one by one at once (waiting would fill the prefetch window).
"""

from __future__ import annotations

import heapq


class AckTracker:
    def __init__(self) -> None:
        self._outstanding: list[int] = []  # heap of received, not yet settled tags
        self._finished: set[int] = set()
        self._acked_alone: set[int] = set()

    def received(self, tag: int) -> None:
        heapq.heappush(self._outstanding, tag)

    def finish(self, tags: list[int], *, rejected: bool = False) -> list[tuple[int, bool]]:
        """Mark tags finished; return the acks to send as (tag, multiple).

        ``rejected`` tags are settled by a nack the caller sends first; they are never acked.
        """
        self._finished.update(tags)
        if rejected:
            self._acked_alone.update(tags)
        acks: list[tuple[int, bool]] = []
        highest = None
        while self._outstanding and self._outstanding[0] in self._finished:
            tag = heapq.heappop(self._outstanding)
            self._finished.discard(tag)
            if tag in self._acked_alone:
                self._acked_alone.discard(tag)
            else:
                highest = tag
        if highest is not None:
            acks.append((highest, True))
        for tag in tags:
            if tag in self._finished and tag not in self._acked_alone:
                self._acked_alone.add(tag)
                acks.append((tag, False))
        return acks

    def __len__(self) -> int:
        return len(self._outstanding)
