"""Serve the model in use, switching to a newly promoted one without a pause.

``CurrentModel.get()`` looks at the registry's pointer (one ``stat`` call, at most every
``check_every`` seconds); when it names another version, the new model is loaded completely and
only then replaces the one being served.  A retrain that is still writing its version changes
nothing for readers: the pointer moves only after the version is whole.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from .classifier import CategoryModel
from .registry import POINTER, ModelRegistry


class NoModel(LookupError):
    """No model has been promoted yet."""


class CurrentModel:
    def __init__(self, registry: ModelRegistry, check_every: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.registry = registry
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._served: tuple[str, CategoryModel] | None = None
        self._pointer_stamp: tuple[int, int] | None = None
        self._checked_at = float("-inf")

    def get(self) -> tuple[str, CategoryModel]:
        """(version name, model); raises NoModel before any promotion."""
        served = self._served
        if served is None or self._clock() - self._checked_at >= self.check_every:
            served = self._refresh()
        return served

    def _refresh(self) -> tuple[str, CategoryModel]:
        with self._lock:
            self._checked_at = self._clock()
            stamp = self._stamp()
            if self._served is not None and stamp == self._pointer_stamp:
                return self._served
            name = self.registry.current_name()
            if name is None:
                raise NoModel(f"no category model promoted in {self.registry.root}")
            if self._served is None or self._served[0] != name:
                self._served = (name, self.registry.load(name))
            self._pointer_stamp = stamp
            return self._served

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = (self.registry.root / POINTER).stat()
            return status.st_ino, status.st_mtime_ns
        except FileNotFoundError:
            return None
