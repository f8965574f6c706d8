"""A small awaitable face over pika's ``AsyncioConnection`` (pika used right, no aio-pika).

pika's asyncio adapter is callback based; these helpers turn its callbacks into futures so the
publisher, the topology and the worker can ``await`` them on one event loop.

``CLARION_BROKER_URL`` names one node or several, comma-separated (the nodes of a cluster):
each connection goes to the first of them that answers, so a worker or a publisher whose node
is lost reconnects to another one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel as PikaChannel

log = logging.getLogger(__name__)

# per node, unless its URL's query sets them (``?heartbeat=10``, as pika's URLParameters reads)
NODE_DEFAULTS = {"blocked_connection_timeout": 60, "connection_attempts": 1, "socket_timeout": 5}


class BrokerUnavailable(ConnectionError):
    """RabbitMQ could not be reached or the connection was lost."""


def node_urls(url: str) -> list[str]:
    """The nodes of a broker URL: one amqp(s) URL, or several separated by commas (a comma in
    a password is written ``%2C``)."""
    nodes = [u.strip() for u in url.split(",") if u.strip()]
    if not nodes:
        raise BrokerUnavailable("the broker URL names no node")
    return nodes


def connection_parameters(url: str, ca_file: str | None = None,
                          heartbeat: int = 30) -> list[pika.URLParameters]:
    """pika's parameters for each node of ``url``, in the order to try them.

    A process starts at the node its pid picks and goes round the list from there, so that a
    fleet of workers spreads over the cluster's nodes.  pika's connection workflow (and
    ``BlockingConnection``) take the list and try each node in turn."""
    nodes = node_urls(url)
    first = os.getpid() % len(nodes)
    return [_node_parameters(u, ca_file, heartbeat) for u in nodes[first:] + nodes[:first]]


def _node_parameters(url: str, ca_file: str | None, heartbeat: int) -> pika.URLParameters:
    params = pika.URLParameters(url)
    given = parse_qs(urlsplit(url).query)
    for name, value in {**NODE_DEFAULTS, "heartbeat": heartbeat}.items():
        if name not in given:
            setattr(params, name, value)
    if url.startswith("amqps://"):
        context = ssl.create_default_context(cafile=ca_file)
        params.ssl_options = pika.SSLOptions(context, params.host)
    return params


def redact(url: str) -> str:
    """The broker URL (each node of it) without its password, for messages and logs."""
    try:
        return ", ".join(_redact_node(u) for u in node_urls(url))
    except Exception:  # noqa: BLE001 - never let redaction raise
        return "amqp://***"


def _redact_node(url: str) -> str:
    try:
        return _masked(pika.URLParameters(url), url.startswith("amqps"))
    except Exception:  # noqa: BLE001 - never let redaction raise
        return "amqp://***"


def _masked(params: pika.ConnectionParameters, tls: bool) -> str:
    return (f"{'amqps' if tls else 'amqp'}://{params.credentials.username}:***@"
            f"{params.host}:{params.port}/")


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
        """Open a connection to the first node of ``url`` that answers."""
        loop = asyncio.get_running_loop()
        nodes = connection_parameters(url, ca_file)
        done: asyncio.Future = loop.create_future()
        workflow = AsyncioConnection.create_connection(
            nodes, lambda result: done.done() or done.set_result(result), custom_ioloop=loop)
        try:
            result = await asyncio.wait_for(done, timeout=_connect_timeout(nodes))
        except asyncio.TimeoutError:
            workflow.abort()
            raise BrokerUnavailable(f"cannot connect to {redact(url)}: timed out") from None
        if not isinstance(result, AsyncioConnection):
            raise BrokerUnavailable(f"cannot connect to {redact(url)}: {_why(result)}")
        if len(nodes) > 1:
            log.info("connected to %s", _masked(result.params, bool(result.params.ssl_options)))
        return cls._opened(result, loop)

    @classmethod
    def _opened(cls, conn: AsyncioConnection, loop: asyncio.AbstractEventLoop) -> AsyncAmqp:
        closed: asyncio.Future = loop.create_future()

        def on_close(_conn: Any, reason: BaseException) -> None:
            if not closed.done():
                closed.set_result(reason)
        conn.add_on_close_callback(on_close)
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


def _connect_timeout(nodes: list[pika.URLParameters]) -> float:
    """Long enough for pika to try every node once (each bounded by its stack timeout)."""
    return sum(p.stack_timeout or 15 for p in nodes) + 5


def _why(failure: BaseException) -> str:
    """What went wrong at each node tried (pika's workflow failure holds one error each)."""
    reasons = [describe(e) for e in getattr(failure, "exceptions", None) or [failure]]
    return "; ".join(dict.fromkeys(reasons))
