"""Local stand-ins for the SMS gateway and the mail server (Quickstart demo, tests, benchmark).

Both check what the real thing checks and can be told to misbehave, deterministically:

* the SMS gateway takes ``POST /send`` ``{"to", "text", "id"}`` (bearer token when set),
  appends each accepted message as a JSON line to a file and answers ``GET /stats``;
* the SMTP capture (aiosmtpd) writes each message as an ``.eml`` named by its Message-ID.

Faults are drawn per (id, attempt) from a seeded hash, so a retried message can succeed and
a run repeats exactly.  Run from Python (``start_sms_gateway``, ``start_smtp_capture``) or as
``python -m clarion.demo.capture sms --port P --out FILE`` / ``smtp --port P --dir DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

T = TypeVar("T")

FLUSH_SECONDS = 0.2
PHONE = re.compile(r"^\+?[0-9]{5,15}$")
TEXT_LIMIT = 1000  # characters; a long SMS is at most a few segments


def draw(seed: int, key: str, attempt: int) -> float:
    """A number in [0, 1) fixed by (seed, key, attempt): a seeded RNG without the state."""
    digest = hashlib.blake2b(f"{seed}:{key}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# ---- SMS gateway ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GatewayFaults:
    fail_rate: float = 0.0  # answered 500
    rate_429: float = 0.0  # answered 429 with Retry-After: 1
    invalid_prefix: str | None = None  # numbers starting with it answered 400
    seed: int = 0

    @property
    def random(self) -> bool:
        return self.fail_rate > 0 or self.rate_429 > 0


def _json(status: int, data: dict[str, Any], headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), headers=headers,
                        content_type="application/json")


class SmsGateway:
    """The gateway's state and handlers; :meth:`app` wires them into an aiohttp app."""

    def __init__(self, out_path: str | Path, token: str | None = None,
                 faults: GatewayFaults = GatewayFaults()):
        self.out_path = Path(out_path)
        self.faults = faults
        self._auth = f"Bearer {token}" if token else None
        self.received = self.accepted = 0
        self.statuses: Counter[int] = Counter()
        self._ids: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self._lines: list[str] = []
        self._file: Any = None
        self._flusher: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send", self.handle_send)
        app.router.add_get("/stats", self.handle_stats)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def handle_send(self, request: web.Request) -> web.Response:
        self.received += 1
        response = self._answer(request, await request.read())
        self.statuses[response.status] += 1
        return response

    def _answer(self, request: web.Request, raw: bytes) -> web.Response:
        """The answer to one POST: a refusal, an injected fault, or acceptance."""
        if self._auth and request.headers.get("Authorization") != self._auth:
            return _json(401, {"error": "invalid token"})
        try:
            message = json.loads(raw)
        except ValueError:
            return _json(400, {"error": "body is not JSON"})
        problem = self._invalid(message)
        if problem:
            return _json(400, {"error": problem})
        fault = self._fault(message)
        return fault if fault is not None else self._accept(message)

    def _invalid(self, message: Any) -> str | None:
        if not isinstance(message, dict):
            return "body must be a JSON object"
        to, text = message.get("to"), message.get("text")
        if not isinstance(to, str) or not PHONE.match(to):
            return "invalid number"
        if self.faults.invalid_prefix and to.startswith(self.faults.invalid_prefix):
            return "invalid number"
        if not isinstance(text, str) or not text:
            return "text is required"
        return "text too long" if len(text) > TEXT_LIMIT else None

    def _fault(self, message: dict[str, Any]) -> web.Response | None:
        if not self.faults.random:
            return None
        key = str(message.get("id") or message["to"])
        self._attempts[key] += 1
        roll = draw(self.faults.seed, key, self._attempts[key])
        if roll < self.faults.fail_rate:
            return _json(500, {"error": "internal error (injected)"})
        if roll < self.faults.fail_rate + self.faults.rate_429:
            return _json(429, {"error": "too many requests (injected)"}, {"Retry-After": "1"})
        return None

    def _accept(self, message: dict[str, Any]) -> web.Response:
        self.accepted += 1
        message_id = str(message.get("id") or f"gw-{self.accepted}")
        self._ids.add(message_id)
        self._lines.append(json.dumps({"id": message_id, "to": message["to"],
                                       "text": message["text"], "t": time.time()},
                                      ensure_ascii=False) + "\n")
        return web.Response(body=b'{"id":"gw-%d","status":"queued"}' % self.accepted,
                            content_type="application/json")

    async def handle_stats(self, request: web.Request) -> web.Response:
        return _json(200, self.stats())

    def stats(self) -> dict[str, Any]:
        return {"received": self.received, "distinct_ids": len(self._ids),
                "accepted": self.accepted,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}

    # ---- the output file: buffered, flushed every FLUSH_SECONDS and on shutdown ----------

    async def _open(self, app: web.Application) -> None:
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.out_path.open("a", encoding="utf-8")
        self._flusher = asyncio.get_running_loop().create_task(self._flush_every())

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        if self._lines and self._file is not None:
            lines, self._lines = self._lines, []
            self._file.write("".join(lines))
            self._file.flush()

    async def _close(self, app: web.Application) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        self.flush()
        self._file.close()
        self._file = None


async def serve_sms_gateway(gateway: SmsGateway, port: int = 0) -> tuple[web.AppRunner, str]:
    """Listen on 127.0.0.1; returns the runner (``await runner.cleanup()``) and the URL."""
    runner = web.AppRunner(gateway.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound_port}/send"


class _LoopThread:
    """An event loop of its own in a daemon thread, for servers used by sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="clarion-capture")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class SmsGatewayHandle:
    """A gateway running in a background thread: ``url``, ``stats()``, ``records()``."""

    def __init__(self, gateway: SmsGateway, port: int):
        self.gateway = gateway
        self._thread = _LoopThread()
        try:
            self._runner, self.url = self._thread.run(serve_sms_gateway(gateway, port))
        except BaseException:
            self._thread.close()
            raise
        self.base_url = self.url.rsplit("/", 1)[0]

    def stats(self) -> dict[str, Any]:
        return self._thread.run(self._in_loop(self.gateway.stats))

    def records(self) -> list[dict[str, Any]]:
        """Every message in the output file (all accepted so far), flushed first."""
        self._thread.run(self._in_loop(self.gateway.flush))
        return read_jsonl(self.gateway.out_path)

    @staticmethod
    async def _in_loop(function: Any) -> Any:
        return function()

    def stop(self) -> None:
        self._thread.run(self._runner.cleanup())
        self._thread.close()

    def __enter__(self) -> SmsGatewayHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sms_gateway(port: int = 0, out_path: str | Path | None = None, *,
                      token: str | None = None, fail_rate: float = 0.0, rate_429: float = 0.0,
                      invalid_prefix: str | None = None, seed: int = 0) -> SmsGatewayHandle:
    """Start the SMS gateway on 127.0.0.1 in a background thread."""
    if out_path is None:
        handle, out_path = tempfile.mkstemp(prefix="clarion-sms-", suffix=".jsonl")
        os.close(handle)
    faults = GatewayFaults(fail_rate, rate_429, invalid_prefix, seed)
    return SmsGatewayHandle(SmsGateway(out_path, token, faults), port)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


# ---- SMTP capture --------------------------------------------------------------------------

UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def eml_name(message_id: str | None, fallback: str) -> str:
    """A file name made from a Message-ID (``<a/b@c>`` → ``a_b@c``)."""
    stem = UNSAFE.sub("_", (message_id or "").strip().strip("<>"))[:200].lstrip(".")
    return stem or fallback


class SmtpCapture:
    """aiosmtpd handler: refuse configured recipients, write each message as an ``.eml``."""

    def __init__(self, folder: str | Path, fail_rcpt: Iterable[str] = (),
                 tempfail_rate: float = 0.0, seed: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fail_rcpt = {a.lower() for a in fail_rcpt}
        self.tempfail_rate, self.seed = tempfail_rate, seed
        self.received = 0
        self.peers: set[Any] = set()  # one (host, port) per client connection that sent MAIL
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        self.peers.add(session.peer)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.fail_rcpt:
            return "550 5.1.1 unknown mailbox"
        if self.tempfail_rate > 0 and self._tempfail(address):
            return "451 4.3.0 temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _tempfail(self, address: str) -> bool:
        self._attempts[address] += 1
        return draw(self.seed, address, self._attempts[address]) < self.tempfail_rate

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        self.save(content)
        return "250 2.0.0 message accepted"

    def save(self, content: bytes) -> Path:
        with self._lock:
            self.received += 1
            message_id = _header(content, "Message-ID")
            stem = eml_name(message_id, f"no-message-id-{self.received}")
            path, n = self.folder / f"{stem}.eml", 1
            while path.exists():  # a second copy stays visible as a duplicate
                n += 1
                path = self.folder / f"{stem}.{n}.eml"
            path.write_bytes(content)
            return path

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
                for p in sorted(self.folder.glob("*.eml"))]


def _header(content: bytes, name: str) -> str | None:
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = re.search(rb"^" + name.encode() + rb":[ \t]*(.+)$", head, re.I | re.M)
    return match.group(1).decode("ascii", "replace").strip() if match else None


class _EphemeralController(Controller):
    """A Controller that may bind port 0 and learns the port the system chose."""

    async def _create_server(self) -> asyncio.AbstractServer:  # type: ignore[override]
        server = await super()._create_server()
        self.port = server.sockets[0].getsockname()[1]
        return server


class SmtpCaptureHandle:
    def __init__(self, capture: SmtpCapture, controller: Controller, scheme: str = "smtp"):
        self.capture, self._controller = capture, controller
        self.folder = capture.folder
        self.host, self.port = "127.0.0.1", controller.port
        self.url = f"{scheme}://{self.host}:{self.port}"

    def stats(self) -> dict[str, int]:
        return {"received": self.capture.received, "connections": len(self.capture.peers)}

    def messages(self) -> list[EmailMessage]:
        return self.capture.messages()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpCaptureHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_smtp_capture(port: int = 0, folder: str | Path | None = None, *,
                       fail_rcpt: Iterable[str] = (), tempfail_rate: float = 0.0, seed: int = 0,
                       tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False,
                       require_starttls: bool = False,
                       credentials: tuple[str, str] | None = None) -> SmtpCaptureHandle:
    """Start an aiosmtpd server on 127.0.0.1 writing what it receives into ``folder``.

    With ``tls_context`` it offers STARTTLS (or speaks TLS from the start, ``implicit_tls``);
    with ``credentials`` it offers AUTH (required after STARTTLS).
    """
    folder = folder or tempfile.mkdtemp(prefix="clarion-smtp-")
    capture = SmtpCapture(folder, fail_rcpt, tempfail_rate, seed)
    options: dict[str, Any] = {"server_hostname": "capture.clarion.local",
                               "require_starttls": require_starttls}
    options["ssl_context" if implicit_tls else "tls_context"] = tls_context
    if credentials:  # aiosmtpd counts only STARTTLS as TLS when it requires AUTH over TLS
        starttls = tls_context is not None and not implicit_tls
        options.update(authenticator=_authenticator(*credentials), auth_required=starttls,
                       auth_require_tls=starttls)
    controller = _EphemeralController(capture, hostname="127.0.0.1", port=port, **options)
    controller.start()
    scheme = "smtps" if implicit_tls and tls_context else "smtp"
    return SmtpCaptureHandle(capture, controller, scheme)


def _authenticator(username: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
              ) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == username
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False)
    return check


# ---- command line --------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clarion.demo.capture")
    commands = parser.add_subparsers(dest="command", required=True)
    sms = commands.add_parser("sms", help="the SMS gateway capture server")
    sms.add_argument("--port", type=int, default=0)
    sms.add_argument("--out", required=True, help="JSON-lines file of accepted messages")
    sms.add_argument("--token", default=None)
    sms.add_argument("--fail-rate", type=float, default=0.0)
    sms.add_argument("--rate-429", type=float, default=0.0)
    sms.add_argument("--invalid-prefix", default=None)
    sms.add_argument("--seed", type=int, default=0)
    smtp = commands.add_parser("smtp", help="the SMTP capture server")
    smtp.add_argument("--port", type=int, default=0)
    smtp.add_argument("--dir", required=True, help="folder for the .eml files")
    smtp.add_argument("--fail-rcpt", default="", help="comma-separated addresses refused 550")
    smtp.add_argument("--tempfail-rate", type=float, default=0.0)
    smtp.add_argument("--seed", type=int, default=0)
    return parser


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_sms(args: argparse.Namespace) -> None:
    faults = GatewayFaults(args.fail_rate, args.rate_429, args.invalid_prefix, args.seed)
    runner, url = await serve_sms_gateway(SmsGateway(args.out, args.token, faults), args.port)
    print(f"ready {url}", flush=True)
    try:
        await _until_signalled()
    finally:
        await runner.cleanup()


async def _run_smtp(args: argparse.Namespace) -> None:
    handle = start_smtp_capture(args.port, args.dir, tempfail_rate=args.tempfail_rate,
                                fail_rcpt=[a for a in args.fail_rcpt.split(",") if a],
                                seed=args.seed)
    print(f"ready {handle.url}", flush=True)
    try:
        await _until_signalled()
    finally:
        handle.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    asyncio.run(_run_sms(args) if args.command == "sms" else _run_smtp(args))


if __name__ == "__main__":
    main()
