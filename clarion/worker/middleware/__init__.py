"""Worker middleware: cross-cutting work hooked around sending (as dramatiq does), never
written inside the pipeline or the adapters.

``base.Middleware`` declares the typed hooks (``before_*``/``after_*``; ``around_send`` for
the one concern that decides when a provider call happens: rate limits); ``Chain`` runs the
installed ones in order.  Defaults: metrics, logging, rate limits.  ``install`` adds one for
every worker this process starts next (the benchmark's probe does).
"""

from __future__ import annotations

from .base import Chain, Middleware, SendCall

__all__ = ["Chain", "Middleware", "SendCall", "install", "installed"]

_INSTALLED: list[Middleware] = []


def install(middleware: Middleware) -> None:
    """Add ``middleware`` to every worker started after this in this process."""
    _INSTALLED.append(middleware)


def installed() -> list[Middleware]:
    return list(_INSTALLED)
