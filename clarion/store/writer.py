"""A worker's database threads, each committing what queued up together (group commit).

Every write of a worker (claims, results, inbox rows) goes through these threads.  While a
thread waits for its transaction (SQLite: the database's one write lock), the worker's other
batches queue their writes; once it begins it runs all of them, in order, in one
transaction: under contention there are fewer, larger transactions and fewer hand-overs of
the lock.  If the shared transaction fails, each operation is run again alone, so one bad
operation fails only its own batch.

SQLite takes one thread (one writer at a time anyway); PostgreSQL takes a few, each with a
connection of the pool, writing side by side.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .protocol import Operation

if TYPE_CHECKING:
    from .db import Store

log = logging.getLogger("clarion.worker")


@dataclass(slots=True)
class _Pending:
    fn: Operation
    args: tuple[Any, ...]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class GroupWriter:
    def __init__(self, store: Store, threads: int = 1, max_group: int = 16):
        self.store = store
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"clarion-db-{i}",
                                          daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()
        self.transactions = 0  # for tests and the curious
        self.operations = 0

    async def write(self, fn: Operation, *args: Any) -> Any:
        """Run ``fn(conn, *args)`` in a write transaction, maybe together with others."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Pending(fn, args, future, loop))
        return await future

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = [first], False
            try:
                with self.store.connect("worker") as conn:  # waits for the write lock …
                    stop = self._take_more(group)  # … while more work queued up
                    results = [op.fn(conn, *op.args) for op in group]
            except Exception as exc:  # noqa: BLE001 - a group is retried one by one
                if len(group) == 1:
                    self._settle(group[0], error=exc)
                else:
                    log.warning("a group of %d writes failed; running them one by one",
                                len(group))
                    for op in group:
                        self._run_alone(op)
            else:
                self.transactions += 1
                self.operations += len(group)
                for op, result in zip(group, results):
                    self._settle(op, result=result)
            if stop:
                return

    def _take_more(self, group: list[_Pending]) -> bool:
        """Add what is queued now (up to ``max_group``); True if a stop was among it."""
        while len(group) < self.max_group:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            group.append(item)
        return False

    def _run_alone(self, op: _Pending) -> None:
        try:
            with self.store.connect("worker") as conn:
                result = op.fn(conn, *op.args)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            self._settle(op, error=exc)
        else:
            self.transactions += 1
            self.operations += 1
            self._settle(op, result=result)

    @staticmethod
    def _settle(op: _Pending, result: Any = None, error: BaseException | None = None) -> None:
        def apply() -> None:
            if op.future.done():
                return
            if error is not None:
                op.future.set_exception(error)
            else:
                op.future.set_result(result)
        try:
            op.loop.call_soon_threadsafe(apply)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

