"""A small awaitable face over pika's ``AsyncioConnection`` (pika used right, no aio-pika).

pika's asyncio adapter is callback based; these helpers turn its callbacks into futures so the
publisher, the topology and the worker can ``await`` them on one event loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, Callable

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel as PikaChannel

log = logging.getLogger(__name__)


class BrokerUnavailable(ConnectionError):
    """RabbitMQ could not be reached or the connection was lost."""


def connection_parameters(url: str, ca_file: str | None = None,
                          heartbeat: int = 30) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 5
    if url.startswith("amqps://"):
        context = ssl.create_default_context(cafile=ca_file)
        params.ssl_options = pika.SSLOptions(context, params.host)
    return params


def redact(url: str) -> str:
    """The broker URL without its password, for messages and logs."""
    try:
        params = pika.URLParameters(url)
        scheme = "amqps" if url.startswith("amqps") else "amqp"
        return f"{scheme}://{params.credentials.username}:***@{params.host}:{params.port}/"
    except Exception:  # noqa: BLE001 - never let redaction raise
        return "amqp://***"


def describe(err: BaseException | str) -> str:
    """The innermost cause of a failed connection, readable.

    pika wraps it (``AMQPConnectionWorkflowFailed`` → ``AMQPConnectorTransportSetupError`` →
    ``ssl.SSLCertVerificationError``) and the wrappers' ``str()`` is empty."""
    seen: set[int] = set()
    while isinstance(err, BaseException) and id(err) not in seen:
        seen.add(id(err))
        inner = getattr(err, "exceptions", None) or ()
        nested = inner[-1] if inner else getattr(err, "exception", None)
        if nested is None and err.args and isinstance(err.args[0], BaseException):
            nested = err.args[0]  # pika.exceptions.AMQPConnectionError(workflow failure)
        if not isinstance(nested, BaseException):
            break
        err = nested
    if isinstance(err, ssl.SSLCertVerificationError):
        return (f"TLS certificate verification failed ({err.verify_message}); check "
                "CLARION_BROKER_CA_FILE and that the URL's host is named in the certificate")
    if isinstance(err, BaseException):
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return str(err)


class AsyncAmqp:
    """One pika AsyncioConnection and awaitable channel operations on it."""

    def __init__(self, conn: AsyncioConnection, closed: asyncio.Future):
        self.conn = conn
        self.closed = closed  # resolves (with the reason) when the connection closes

    @classmethod
    async def connect(cls, url: str, ca_file: str | None = None) -> AsyncAmqp:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future = loop.create_future()
        closed: asyncio.Future = loop.create_future()

        def on_open(conn: AsyncioConnection) -> None:
            if not opened.done():
                opened.set_result(conn)

        def on_open_error(_conn: Any, err: BaseException | str) -> None:
            if not opened.done():
                opened.set_exception(BrokerUnavailable(
                    f"cannot connect to {redact(url)}: {describe(err)}"))

        def on_close(_conn: Any, reason: BaseException) -> None:
            if not closed.done():
                closed.set_result(reason)

        AsyncioConnection(connection_parameters(url, ca_file), on_open_callback=on_open,
                          on_open_error_callback=on_open_error, on_close_callback=on_close,
                          custom_ioloop=loop)
        conn = await asyncio.wait_for(opened, timeout=15)
        return cls(conn, closed)

    async def channel(self, on_close: Callable[[PikaChannel, BaseException], None] | None = None
                      ) -> PikaChannel:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        ch = self.conn.channel(on_open_callback=lambda c: fut.done() or fut.set_result(c))
        if on_close is not None:
            ch.add_on_close_callback(on_close)
        return await self._guard(fut)

    async def call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """Run a pika channel method that takes ``callback`` and await its reply frame."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        method(callback=lambda frame: fut.done() or fut.set_result(frame), **kwargs)
        return await self._guard(fut)

    async def _guard(self, fut: asyncio.Future) -> Any:
        done, _ = await asyncio.wait({fut, self.closed}, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        fut.cancel()
        raise BrokerUnavailable("connection closed" if self.closed.done() else "broker timeout")

    @property
    def is_open(self) -> bool:
        return self.conn.is_open and not self.closed.done()

    async def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout=5)
        except asyncio.TimeoutError:
            pass
