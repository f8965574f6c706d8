"""Transport security: amqps:// to the broker and HTTPS for the API, with a throwaway CA.

The broker side puts a small TLS-terminating proxy (this process, its own thread and event
loop) in front of the machine's plain RabbitMQ on 127.0.0.1:5672, so nothing in RabbitMQ's own
configuration changes: Clarion speaks amqps:// to the proxy, the proxy pipes bytes to 5672.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from .conftest import ROOT, free_port, wait_until
from .scenarios import all_final, campaign_id, sms_notice

SECRET_PASSWORD = "guest"  # RabbitMQ's default user (the working case)
URL_SECRET_MARK = "s3cr3t-broker-pw"  # a password that would be recognisable in an error


# ---- a throwaway CA --------------------------------------------------------------------------

@dataclass
class Pki:
    ca: Path  # CA certificate (PEM): what clients trust
    cert: Path  # server certificate (PEM) for localhost / 127.0.0.1, signed by the CA
    key: Path  # its private key (PEM)


def _write_pki(directory: Path, names: tuple[str, ...] = ("localhost",),
               ips: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            f"Clarion test CA {directory.name}")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(pem_key(key))
    pki.key.chmod(0o600)
    return pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return _write_pki(tmp_path / "pki")


# ---- a TLS-terminating proxy in front of RabbitMQ ------------------------------------------------

class TlsProxy:
    """127.0.0.1:<port> (TLS with the given cert) → 127.0.0.1:5672 (plain AMQP)."""

    def __init__(self, cert: Path, key: Path, upstream: tuple[str, int] = ("127.0.0.1", 5672)):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert, key)
        self.upstream = upstream
        self.port = free_port()
        self.accepted = 0  # TLS handshakes completed (connections that reached the pipe)
        self.handshake_failures = 0
        self.bytes_up = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task] = set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._ready.wait(10), "the TLS proxy did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._client, "127.0.0.1", self.port, ssl=self.context,
            ssl_handshake_timeout=10))
        self.loop.set_exception_handler(self._quiet)
        self._ready.set()
        self.loop.run_forever()

    def _quiet(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, (ssl.SSLError, ConnectionError)):
            self.handshake_failures += 1  # a client that refused our certificate
            return
        loop.default_exception_handler(context)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer, up=True),
                                 self._pipe(up_reader, writer, up=False))
        finally:
            for w in (writer, up_writer):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    up: bool) -> None:
        try:
            while data := await reader.read(65536):
                if up:
                    self.bytes_up += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken transport
                pass

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0.05)
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def tls_proxy(rabbitmq, pki: Pki) -> Iterator[TlsProxy]:
    proxy = TlsProxy(pki.cert, pki.key)
    yield proxy
    proxy.stop()


def amqps_url(port: int, host: str = "localhost", password: str = SECRET_PASSWORD) -> str:
    return f"amqps://guest:{password}@{host}:{port}/%2F"


def _use_broker(monkeypatch: pytest.MonkeyPatch, url: str, ca: Path | None) -> None:
    monkeypatch.setenv("CLARION_BROKER_URL", url)
    if ca is None:
        monkeypatch.delenv("CLARION_BROKER_CA_FILE", raising=False)
    else:
        monkeypatch.setenv("CLARION_BROKER_CA_FILE", str(ca))
    from clarion.settings import get_settings
    get_settings.cache_clear()


# ---- broker: amqps:// end to end ---------------------------------------------------------------

def test_campaign_over_amqps_through_a_tls_listener(prefect_api, clarion_env, tls_proxy, pki,
                                                    monkeypatch, store, campus, sms_gateway,
                                                    workers):
    """The broadcast flow publishes and a ``clarion worker`` consumes, both over amqps://
    trusting only the throwaway CA; every SMS arrives."""
    _use_broker(monkeypatch, amqps_url(tls_proxy.port), pki.ca)
    n = campus(80)
    gateway = sms_gateway()
    worker = workers.start(channels="sms")
    wait_until(lambda: tls_proxy.accepted >= 1, timeout=30,
               message="the worker to connect through the TLS proxy")
    from .conftest import run_broadcast
    request = sms_notice("over-amqps")
    result = run_broadcast(request, timeout_s=120)
    assert result["channels"]["sms"]["sent"] == n, result
    assert all_final(store, campaign_id(request))
    stats = gateway.stats()
    assert stats["received"] == stats["distinct_ids"] == n
    assert worker.poll() is None, workers.logs()
    assert tls_proxy.accepted >= 2  # the worker's connection and the flow's publisher
    assert tls_proxy.handshake_failures == 0
    assert tls_proxy.bytes_up > 10_000  # the deliveries' acks and the flow's publishes


def test_publish_over_amqps_is_consumed_by_a_worker(clarion_env, tls_proxy, pki, monkeypatch,
                                                    store, campus, sms_gateway, workers):
    """The lower-level path: ``open_publisher`` over amqps:// → a real worker process."""
    _use_broker(monkeypatch, amqps_url(tls_proxy.port, host="127.0.0.1"), pki.ca)
    campus(5)
    gateway = sms_gateway()
    workers.start(channels="sms")
    from clarion.settings import get_settings
    from clarion.transactional import MessageRequest, Target, deliver, new_message_id, plan

    async def send() -> str:
        from clarion.broker.publisher import open_publisher
        settings = get_settings()
        publisher = await open_publisher(settings, ["sms"])
        try:
            request = MessageRequest(channels=["sms"], to=[Target(id="S000001"),
                                                           Target(sms="+8613900000009")],
                                     content={"sms": {"text": "over TLS"}})
            message_id = new_message_id()
            await deliver(store, settings, publisher, plan(store, settings, request), message_id)
            return message_id
        finally:
            await publisher.close()
            await publisher.amqp.close()
    asyncio.run(send())
    wait_until(lambda: gateway.stats()["received"] >= 2, timeout=60,
               message="two SMS at the gateway")
    assert {r["text"] for r in gateway.records()} == {"over TLS"}
    assert tls_proxy.accepted >= 2 and tls_proxy.handshake_failures == 0


def _connect_error(url: str, ca: Path | None) -> str:
    from clarion.broker.amqp import AsyncAmqp

    async def attempt() -> str:
        try:
            amqp = await AsyncAmqp.connect(url, str(ca) if ca else None)
        except Exception as exc:  # noqa: BLE001 - the error's text is what we test
            return f"{type(exc).__name__}: {exc}"
        await amqp.close()
        return "connected"
    return asyncio.run(attempt())


@pytest.fixture
def other_pki(tmp_path: Path) -> Pki:
    return _write_pki(tmp_path / "other-pki")


@pytest.fixture
def elsewhere_proxy(rabbitmq, tmp_path: Path) -> Iterator[tuple[TlsProxy, Pki]]:
    """A proxy whose certificate (from its own CA) names broker.example only."""
    pki = _write_pki(tmp_path / "elsewhere-pki", names=("broker.example",), ips=())
    proxy = TlsProxy(pki.cert, pki.key)
    yield proxy, pki
    proxy.stop()


def _refusal(proxy: TlsProxy, ca: Path | None) -> str:
    error = _connect_error(amqps_url(proxy.port, password=URL_SECRET_MARK), ca)
    assert error != "connected"
    assert re.search(r"certificate verif", error, re.I), error  # says what failed
    assert URL_SECRET_MARK not in error, error  # and gives no secret away
    assert "amqps://guest:***@localhost" in error, error  # names the broker, redacted
    assert proxy.accepted == 0  # nothing got past the handshake
    return error


@pytest.mark.parametrize("trust", ["system", "other-ca"])
def test_an_untrusted_broker_certificate_is_refused(trust, tls_proxy, other_pki):
    ca = None if trust == "system" else other_pki.ca  # system trust knows no throwaway CA
    assert "local issuer" in _refusal(tls_proxy, ca)


def test_a_broker_certificate_for_another_host_is_refused(elsewhere_proxy):
    proxy, pki = elsewhere_proxy  # trusted CA, but the URL says localhost
    error = _refusal(proxy, pki.ca)
    assert "mismatch" in error and "localhost" in error, error


def test_a_worker_refusing_the_broker_certificate_says_why(clarion_env, tls_proxy, other_pki,
                                                           monkeypatch, sms_gateway, workers):
    """What an operator sees: the worker's log names certificate verification, no password."""
    _use_broker(monkeypatch, amqps_url(tls_proxy.port, password=URL_SECRET_MARK), other_pki.ca)
    sms_gateway()
    proc = workers.start(channels="sms")
    wait_until(lambda: "certificate verify failed" in workers.logs().lower()
               or proc.poll() is not None, timeout=30, message="the worker to log the refusal")
    logs = workers.logs()
    assert "certificate verify failed" in logs.lower(), logs
    assert URL_SECRET_MARK not in logs, logs
    assert tls_proxy.accepted == 0


# ---- the API over HTTPS ------------------------------------------------------------------------

@pytest.fixture
def https_api(clarion_env, pki: Pki, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path / "api.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "clarion.cli.main", "api", "--port", str(port),
                             "--ssl-certfile", str(pki.cert), "--ssl-keyfile", str(pki.key),
                             "--log-level", "warning"],
                            env={**os.environ}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / "api.log").read_text())
        try:
            return httpx.get(f"https://localhost:{port}/healthz", verify=str(pki.ca),
                             timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        wait_until(up, timeout=60, message="clarion api over HTTPS")
        yield f"localhost:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_api_serves_https_with_the_given_certificate(https_api, pki, other_pki):
    r = httpx.get(f"https://{https_api}/healthz", verify=str(pki.ca), timeout=5)
    assert r.status_code == 200 and r.url.scheme == "https"
    ip = https_api.replace("localhost", "127.0.0.1")
    assert httpx.get(f"https://{ip}/healthz", verify=str(pki.ca), timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://{https_api}/healthz", verify=str(other_pki.ca), timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://{https_api}/healthz", timeout=5)  # system trust only
    with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets no HTTP answer
        r = httpx.get(f"http://{https_api}/healthz", timeout=5)
        raise AssertionError(f"plain HTTP was answered: {r.status_code} {r.text[:200]}")
