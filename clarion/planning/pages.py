"""Pages of recipients that a campaign's channels share.

The fan-outs of one segment, one per channel, run side by side and read the same pages of
the directory — and, with them, the same policy decisions (clarion.planning.fanout): the
first to ask for a page reads and decides it, the others take that copy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable


class SharedPages:
    """Pages of recipients that a campaign's channels share.

    The fan-outs of one segment, one per channel, run side by side and read the same pages
    of the directory; the first to ask for a page reads it, the others take that copy (the
    directory read was a fifth of a fan-out's CPU, three times over).  A page is dropped once
    every channel has taken it, at most ``limit`` are kept (a channel that falls far behind
    reads its pages again), and none is used once ``max_age`` seconds old (a page left by a
    failed fan-out never serves a later run).  A failed read is not kept: whoever waited for
    it reads the page itself.
    """

    def __init__(self, limit: int = 16, max_age: float = 30.0):
        self.limit, self.max_age = limit, max_age
        self._lock = threading.Lock()
        # key → [future, takers left, read at (monotonic)]
        self._pages: OrderedDict[tuple, list] = OrderedDict()

    def get(self, key: tuple, takers: int, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            entry = self._pages.get(key)
            mine = entry is None or now - entry[2] > self.max_age
            if mine:
                entry = self._pages[key] = [Future(), takers, now]
                self._pages.move_to_end(key)
                while len(self._pages) > self.limit:
                    self._pages.popitem(last=False)
            entry[1] -= 1
            if entry[1] <= 0:
                self._pages.pop(key, None)
        future: Future = entry[0]
        if mine:
            try:
                future.set_result(read())
            except BaseException as exc:
                with self._lock:
                    if self._pages.get(key) is entry:
                        del self._pages[key]
                future.set_exception(exc)
                raise
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - the reader's failure: read it ourselves
            return read()

    def __len__(self) -> int:
        return len(self._pages)


PAGES = SharedPages()
