"""Email over SMTP: a small pool of reused connections, multipart text+HTML, one attempt per
message.

A channel keeps a pool of up to ``connections`` connections per worker (opened on demand,
reused while they last); a ``send`` call spreads its messages over as many of them as are
free, each sending one message after another, and concurrent calls share the pool.  The
server then always has a message to work on while replies travel (``docs/BENCHMARKS.md``,
email).

Replies map onto outcomes the SMTP way: 4xx is retryable, 5xx permanent (``550`` unknown
mailbox), a lost or refused connection retryable, a refused login stops the account.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

import aiosmtplib

from .base import (
    AccountStoppedError,
    BaseChannel,
    ChannelError,
    ConfigurationError,
    OutboundMessage,
    RetryableError,
    SendResult,
)

if TYPE_CHECKING:
    from .registry import ChannelDeps

CRITICAL_PRIORITIES = frozenset({"emergency", "urgent"})  # never offer an unsubscribe link
IDLE_CHECK_SECONDS = 10.0  # a connection idle longer than this is checked with NOOP first
DEFAULT_CONNECTIONS = 4  # per channel and worker process (docs/BENCHMARKS.md, email)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to connect, parsed from ``smtp://user:pass@host:port`` or ``smtps://``."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError("email: url must look like smtp://host:port or smtps://…")
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError("email: url has an invalid port") from None
        implicit = parts.scheme == "smtps"
        return cls(parts.hostname, port or (465 if implicit else 25),
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None, implicit)


class EmailChannel(BaseChannel):
    name: ClassVar[str] = "email"
    max_batch: ClassVar[int] = 50  # spread over the pooled connections
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def __init__(self, server: SmtpServer, *, sender: str, message_id_domain: str,
                 starttls: bool = False, timeout: float = 30.0, ca_file: str | None = None,
                 unsubscribe_url: str | None = None, connections: int = DEFAULT_CONNECTIONS):
        self.host, self.port, self.username = server.host, server.port, server.username
        self.password = server.password
        self.implicit_tls, self.starttls = server.implicit_tls, starttls
        self.sender, self.message_id_domain = sender, message_id_domain
        self.timeout, self.ca_file, self.unsubscribe_url = timeout, ca_file, unsubscribe_url
        try:
            self._from_header = _address(sender)
        except ValueError:
            raise ConfigurationError(f"email: sender {sender!r} is not an address") from None
        self._envelope_from = parseaddr(sender)[1]
        if connections < 1:
            raise ConfigurationError("email: connections must be at least 1")
        self.connections = connections
        self._pool: ConnectionPool | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps | None = None
                     ) -> EmailChannel:
        if not options.get("url"):
            raise ConfigurationError("email: url is required (smtp://user:pass@host:port)")
        return cls(SmtpServer.from_url(options["url"]),
                   sender=options.get("sender") or "Clarion <noreply@clarion.local>",
                   message_id_domain=options.get("message_id_domain") or "clarion.local",
                   starttls=bool(options.get("starttls", False)),
                   timeout=float(options.get("timeout") or 30.0),
                   ca_file=options.get("ca_file"),
                   unsubscribe_url=options.get("unsubscribe_url"),
                   connections=int(options.get("connections", DEFAULT_CONNECTIONS)))

    # ---- sending ---------------------------------------------------------------------------

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """One attempt per message, over up to ``connections`` pooled connections at once."""
        pool = self._pool_of_this_loop()
        results: dict[str, SendResult] = {}
        queue = iter(messages)
        lanes = min(self.connections, len(messages))
        await asyncio.gather(*(self._lane(pool, queue, results) for _ in range(lanes)))
        return [results[m.delivery_id] for m in messages]

    async def _lane(self, pool: ConnectionPool, queue: Iterator[OutboundMessage],
                    results: dict[str, SendResult]) -> None:
        """Messages of ``queue`` one after another over one connection (a new one when the
        server dropped it); when none can be had, every message left gets that error."""
        smtp: aiosmtplib.SMTP | None = None
        try:
            for message in queue:
                if smtp is None or not smtp.is_connected:
                    smtp = pool.release(smtp)
                    try:
                        smtp = await pool.acquire()
                    except ChannelError as error:
                        left = [message, *queue]
                        results.update((m.delivery_id, error.result_for(m.delivery_id))
                                       for m in left)
                        return
                results[message.delivery_id] = await self._send_one(smtp, message)
        finally:
            pool.release(smtp)

    async def _send_one(self, smtp: aiosmtplib.SMTP, message: OutboundMessage) -> SendResult:
        delivery_id = message.delivery_id
        try:
            await smtp.sendmail(self._envelope_from, [message.address], self.render(message))
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0]
            return reply_result(delivery_id, refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421:  # the server is closing the connection
                smtp.close()
            return reply_result(delivery_id, error.code, error.message)
        except (aiosmtplib.SMTPNotSupported, ValueError) as error:
            return SendResult.failed(delivery_id, "address", f"cannot send to it: {error}")
        except (OSError, aiosmtplib.SMTPException) as error:  # dropped, timed out
            smtp.close()
            return SendResult.retry(delivery_id, None,
                                    f"SMTP connection lost ({type(error).__name__})")
        return SendResult.sent(delivery_id, provider_message_id=self.message_id(message))

    # ---- the connection --------------------------------------------------------------------

    def _pool_of_this_loop(self) -> ConnectionPool:
        """The pool of the running loop; a pool of another (closed) loop is simply dropped."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            self._pool = ConnectionPool(self.connections, self._connect, loop)
        return self._pool

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, username=self.username, password=self.password,
            use_tls=self.implicit_tls, start_tls=self.starttls and not self.implicit_tls,
            timeout=self.timeout, tls_context=self._tls_context())
        try:
            await smtp.connect()
        except aiosmtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise AccountStoppedError("email: the SMTP server refused the login",
                                      code=str(error.code)) from None
        except (OSError, aiosmtplib.SMTPException) as error:
            smtp.close()
            raise RetryableError(f"email: cannot connect to {self.host}:{self.port} "
                                 f"({type(error).__name__})") from None
        return smtp

    def _tls_context(self) -> ssl.SSLContext | None:
        if not (self.implicit_tls or self.starttls):
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and pool.loop is asyncio.get_running_loop():
            await pool.close()

    # ---- the message -----------------------------------------------------------------------

    def message_id(self, message: OutboundMessage) -> str:
        return f"<{message.delivery_id}@{self.message_id_domain}>"

    def render(self, message: OutboundMessage) -> bytes:
        """The message as SMTP bytes: text, or multipart/alternative text+HTML."""
        content = message.content
        headers = {
            "Subject": _encoded(content.get("subject") or content.get("title") or ""),
            "From": self._from_header,
            "To": _address(message.address),
            "Date": formatdate(usegmt=True),
            "Message-ID": self.message_id(message),
            "X-Clarion-Delivery": message.delivery_id,
            "MIME-Version": "1.0",
        }
        if message.priority not in CRITICAL_PRIORITIES:
            headers.update(self._unsubscribe(message))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        text = content.get("text") or content.get("body") or ""
        return head.encode() + mime_body(text, content.get("html"))

    def _unsubscribe(self, message: OutboundMessage) -> dict[str, str]:
        if "unsubscribe_url" in message.content:  # planning decided: its signed link, or none
            url = message.content["unsubscribe_url"]  # (a critical category: no way out)
            return self._unsubscribe_headers(message, url) if url else {}
        return self._unsubscribe_headers(
            message, message.extra.get("unsubscribe_url") or self.unsubscribe_url)

    def _unsubscribe_headers(self, message: OutboundMessage, url: str | None
                             ) -> dict[str, str]:
        if not url:
            subject = quote(f"unsubscribe {message.category} {message.delivery_id}")
            return {"List-Unsubscribe":
                    f"<mailto:unsubscribe@{self.message_id_domain}?subject={subject}>"}
        headers = {"List-Unsubscribe": f"<{url.replace('{delivery_id}', message.delivery_id)}>"}
        if url.startswith("https://"):  # RFC 8058 one-click
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return headers


class ConnectionPool:
    """Up to ``size`` SMTP connections of one event loop: idle ones reused (one idle longer than
    ``IDLE_CHECK_SECONDS`` is checked with NOOP first), new ones opened when none is idle."""

    def __init__(self, size: int, connect: Callable[[], Awaitable[aiosmtplib.SMTP]],
                 loop: asyncio.AbstractEventLoop):
        self.size, self.loop, self._connect = size, loop, connect
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # (connection, last used)

    async def acquire(self) -> aiosmtplib.SMTP:
        """A live connection of the pool; waits while all of them are in use."""
        await self._slots.acquire()
        try:
            while self._idle:
                smtp, last_used = self._idle.pop()
                if smtp.is_connected and await _still_alive(smtp, last_used):
                    return smtp
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    def release(self, smtp: aiosmtplib.SMTP | None) -> None:
        """Give a connection back (kept only while connected); always returns None."""
        if smtp is None:
            return None
        if smtp.is_connected:
            self._idle.append((smtp, time.monotonic()))
        self._slots.release()
        return None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            if not smtp.is_connected:
                continue
            try:
                await smtp.quit()
            except (OSError, aiosmtplib.SMTPException):
                smtp.close()


async def _still_alive(smtp: aiosmtplib.SMTP, last_used: float) -> bool:
    if time.monotonic() - last_used < IDLE_CHECK_SECONDS:
        return True
    try:
        await smtp.noop()
    except (OSError, aiosmtplib.SMTPException):
        smtp.close()
        return False
    return True


def reply_result(delivery_id: str, code: int, text: str) -> SendResult:
    """An SMTP reply as a result: 4xx try again, 5xx permanent, anything odd try again."""
    reason = text.strip() or f"SMTP reply {code}"
    if 500 <= code < 600:
        return SendResult.failed(delivery_id, str(code), reason)
    return SendResult.retry(delivery_id, str(code) if code > 0 else None, reason)


# ---- MIME by hand: the stdlib email API costs ~0.5 ms a message, this ~20 µs ---------------

def mime_body(text: str, html: str | None) -> bytes:
    """Content headers, a blank line and the body: text/plain, or text+HTML alternatives."""
    if not html:
        return _part("plain", text)
    boundary = f"=_clarion_{secrets.token_hex(12)}".encode()
    return (b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n'
            + b"--" + boundary + b"\r\n" + _part("plain", text)
            + b"--" + boundary + b"\r\n" + _part("html", html)
            + b"--" + boundary + b"--\r\n")


def _part(subtype: str, text: str) -> bytes:
    head = (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n")
    return head.encode() + base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")


def _encoded(text: str) -> str:
    """A header value on one line, RFC 2047-encoded unless it is short plain ASCII."""
    text = " ".join(text.split())
    if text.isascii() and len(text) < 900:
        return text
    return Header(text, "utf-8").encode(linesep="\r\n")


def _address(value: str) -> str:
    """A header value for one address; ValueError when it is not one (or smuggles lines)."""
    name, address = parseaddr(value)
    if "@" not in address or "\r" in value or "\n" in value:
        raise ValueError(f"not an email address: {value!r}")
    return formataddr((name, address), charset="utf-8")
