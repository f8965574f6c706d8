"""Finding, across sends, the recipient that made a provider refuse a whole call.

Aliyun answers one code for a whole ``SendSms``: one number over its per-number cap
(``isv.BUSINESS_LIMIT_CONTROL``) or refused for itself (``isv.MOBILE_NUMBER_ILLEGAL``) sinks
every other number of the call, and nobody can tell which it was.  Nothing was sent, so the
call's recipients come back (the queue retries them) as one *group of suspects*.  A later send
splits a group it meets into parts of about √n (singles below :data:`SINGLES_BELOW`): a part
that goes through clears its recipients, a refused part is a smaller group.  A group of 1,000
is settled in three more sends (1000 → 32 parts → 6 parts → singles, ~45 calls, not 1,000).

A recipient refused alone for its cap is *held* until its window ends: held back without a
call meanwhile, so a later campaign does not sink its call on it again.  Memory is per adapter
(per worker process), bounded; a worker that has not met a number yet finds it the same way.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeVar

SINGLES_BELOW = 11  # a group this small is sent one by one
MEMORY = 100_000  # suspects and held recipients remembered (the oldest forgotten first)

T = TypeVar("T")


class Isolation:
    def __init__(self, memory: int = MEMORY, clock: Callable[[], float] = time.time):
        self._suspects: OrderedDict[str, int] = OrderedDict()  # address -> its group
        self._held: OrderedDict[str, tuple[float, str]] = OrderedDict()  # -> (until, why)
        self._groups = itertools.count(1)
        self._memory, self._clock = memory, clock

    def held(self, address: str) -> tuple[float, str] | None:
        """(seconds left, why) while ``address`` is held, else None."""
        entry = self._held.get(address)
        if entry is None:
            return None
        left = entry[0] - self._clock()
        if left > 0:
            return left, entry[1]
        del self._held[address]
        return None

    def hold(self, address: str, seconds: float, why: str) -> None:
        self._held[address] = (self._clock() + seconds, why)
        self._held.move_to_end(address)
        _trim(self._held, self._memory)

    def suspect(self, addresses: Sequence[str]) -> None:
        """These were refused together, for one of them: a new group."""
        group = next(self._groups)
        for address in addresses:
            self._suspects[address] = group
            self._suspects.move_to_end(address)
        _trim(self._suspects, self._memory)

    def clear(self, addresses: Sequence[str]) -> None:
        for address in addresses:
            self._suspects.pop(address, None)

    def parts(self, items: Sequence[T], address: Callable[[T], str]
              ) -> tuple[list[T], list[list[T]]]:
        """(the items of no group, the suspects' groups split into parts to send apart)."""
        free: list[T] = []
        groups: dict[int, list[T]] = {}
        for item in items:
            group = self._suspects.get(address(item))
            if group is None:
                free.append(item)
            else:
                groups.setdefault(group, []).append(item)
        return free, [part for group in groups.values() for part in split(group)]


def split(group: list[T]) -> list[list[T]]:
    if len(group) < SINGLES_BELOW:
        return [[item] for item in group]
    size = math.ceil(math.sqrt(len(group)))
    return [group[i:i + size] for i in range(0, len(group), size)]


def _trim(memory: OrderedDict, most: int) -> None:  # type: ignore[type-arg]
    while len(memory) > most:
        memory.popitem(last=False)
