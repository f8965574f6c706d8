"""One confirming publisher per API process (per event loop), reopened when it breaks."""

from __future__ import annotations

import asyncio

from ..broker.publisher import ConfirmingPublisher, open_publisher
from ..channels.registry import channel_specs
from ..settings import Settings


class SharedPublisher:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._publisher: ConfirmingPublisher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def _usable(self, loop: asyncio.AbstractEventLoop) -> bool:
        p = self._publisher
        return p is not None and self._loop is loop and p.is_open

    async def get(self) -> ConfirmingPublisher:
        loop = asyncio.get_running_loop()
        if self._usable(loop):
            return self._publisher  # type: ignore[return-value]
        if self._loop is not loop:  # a new loop (tests): the old connection went with its loop
            self._publisher, self._loop, self._lock = None, loop, asyncio.Lock()
        async with self._lock:  # type: ignore[union-attr]
            if not self._usable(loop):
                await self.close()
                self._publisher = await open_publisher(self.settings,
                                                       list(channel_specs(self.settings)))
        return self._publisher  # type: ignore[return-value]

    def discard(self) -> None:
        """After a broker error: the next request opens a fresh connection."""
        self._publisher = None

    async def close(self) -> None:
        p, self._publisher = self._publisher, None
        if p is not None and self._loop is asyncio.get_running_loop():
            await p.close()
            await p.amqp.close()
