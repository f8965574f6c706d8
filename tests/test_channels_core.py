"""The core channels against real local servers: aiosmtpd for email, aiohttp for HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome
from clarion.channels.email import EmailChannel
from clarion.channels.inbox import InboxChannel
from clarion.channels.registry import ChannelDeps, adapter_class
from clarion.channels.sms_gateway import SmsGatewayChannel, parse_retry_after
from clarion.channels.webhook import WebhookChannel, sign, verify_signature
from clarion.demo.capture import start_smtp_capture

SENDER = "Clarion <noreply@campus.example.edu>"
DOMAIN = "campus.example.edu"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def mail(delivery_id: str, address: str, **kw: Any) -> OutboundMessage:
    content = kw.pop("content", {"subject": "Course change 课程调整", "text": "Room 101 now.",
                                 "html": "<p>Room <b>101</b> now.</p>"})
    return OutboundMessage(delivery_id, address, content, **kw)


def email_channel(url: str, **options: Any) -> EmailChannel:
    return EmailChannel.from_options(
        {"url": url, "sender": SENDER, "message_id_domain": DOMAIN, "timeout": 5, **options},
        ChannelDeps())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- email -------------------------------------------------------------------------------------

def test_adapters_are_registered() -> None:
    for kind, cls in [("email", EmailChannel), ("sms_gateway", SmsGatewayChannel),
                      ("webhook", WebhookChannel), ("inbox", InboxChannel)]:
        assert adapter_class(kind) is cls


def test_email_arrives_as_text_and_html_with_its_message_id(tmp_path: Path) -> None:
    with start_smtp_capture(folder=tmp_path) as smtp:
        channel = email_channel(smtp.url)
        [result] = run(_send_and_close(channel, [mail("d-1", "s000001@campus.example.edu")]))
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == f"<d-1@{DOMAIN}>"
    received = message_from_bytes((tmp_path / f"d-1@{DOMAIN}.eml").read_bytes(),
                                  policy=policy.default)
    assert received["Message-ID"] == f"<d-1@{DOMAIN}>"
    assert received["X-Clarion-Delivery"] == "d-1"
    assert received["Subject"] == "Course change 课程调整"
    assert received["List-Unsubscribe"].startswith(f"<mailto:unsubscribe@{DOMAIN}")
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content().strip() == "Room 101 now."
    assert "<b>101</b>" in received.get_body(("html",)).get_content()


def test_urgent_email_has_no_unsubscribe_and_falls_back_to_title_body(tmp_path: Path) -> None:
    message = mail("d-2", "t000001@campus.example.edu", priority="emergency",
                   content={"title": "Campus closed", "body": "Stay indoors."})
    with start_smtp_capture(folder=tmp_path) as smtp:
        [result] = run(_send_and_close(email_channel(smtp.url), [message]))
        [received] = smtp.messages()
    assert result.outcome is Outcome.SENT
    assert received["Subject"] == "Campus closed"
    assert received["List-Unsubscribe"] is None
    assert received.get_content().strip() == "Stay indoors."


def test_email_550_fails_451_retries_and_the_rest_still_go(tmp_path: Path) -> None:
    messages = [mail("ok-1", "a@campus.example.edu"), mail("bad", "gone@campus.example.edu"),
                mail("ok-2", "b@campus.example.edu")]
    with start_smtp_capture(folder=tmp_path, fail_rcpt={"gone@campus.example.edu"}) as smtp:
        results = {r.delivery_id: r for r in run(_send_and_close(email_channel(smtp.url),
                                                                 messages))}
    assert results["bad"].outcome is Outcome.FAILED
    assert results["bad"].code == "550" and "unknown mailbox" in results["bad"].reason
    assert results["ok-1"].outcome is results["ok-2"].outcome is Outcome.SENT
    with start_smtp_capture(folder=tmp_path / "t", tempfail_rate=1.0) as smtp:
        [result] = run(_send_and_close(email_channel(smtp.url), messages[:1]))
    assert result.outcome is Outcome.RETRY and result.code == "451"


@pytest.mark.parametrize("pool", [1, 4])
def test_email_reuses_its_pooled_connections_across_calls(tmp_path: Path, pool: int) -> None:
    messages = [mail(f"m-{i}", f"s{i:06d}@campus.example.edu") for i in range(60)]

    async def scenario(channel: EmailChannel) -> list[Any]:
        first = await channel.send(messages[:30])
        second = await channel.send(messages[30:])
        await channel.aclose()
        return first + second

    with start_smtp_capture(folder=tmp_path) as smtp:
        results = run(scenario(email_channel(smtp.url, connections=pool)))
        stats = smtp.stats()
    assert [r.outcome for r in results] == [Outcome.SENT] * 60
    assert stats == {"received": 60, "connections": pool}


def test_email_retries_when_the_server_is_gone_and_reconnects_after(tmp_path: Path) -> None:
    port = free_port()

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        channel = email_channel(f"smtp://127.0.0.1:{port}")
        with start_smtp_capture(port, tmp_path / "a"):
            before = await channel.send([mail("a-1", "a@campus.example.edu")])
        down = await channel.send([mail("b-1", "b@campus.example.edu"),
                                   mail("b-2", "c@campus.example.edu")])
        with start_smtp_capture(port, tmp_path / "b"):
            after = await channel.send([mail("c-1", "d@campus.example.edu")])
            await channel.aclose()
        return before, down, after

    before, down, after = run(scenario())
    assert before[0].outcome is Outcome.SENT
    assert [r.outcome for r in down] == [Outcome.RETRY, Outcome.RETRY]
    assert after[0].outcome is Outcome.SENT


def test_email_starttls_and_login_with_an_encoded_password(tmp_path: Path) -> None:
    password = "p@ss:w/rd%?"
    cert, key = _self_signed_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with start_smtp_capture(folder=tmp_path / "mail", tls_context=server_tls,
                            require_starttls=True, credentials=("mailer", password)) as smtp:
        url = f"smtp://mailer:{quote(password, safe='')}@127.0.0.1:{smtp.port}"
        channel = email_channel(url, starttls=True, ca_file=str(cert))
        [result] = run(_send_and_close(channel, [mail("tls-1", "a@campus.example.edu")]))
        plain = email_channel(f"smtp://127.0.0.1:{smtp.port}")
        [refused] = run(_send_and_close(plain, [mail("plain-1", "a@campus.example.edu")]))
    assert result.outcome is Outcome.SENT, result
    assert (tmp_path / "mail" / f"tls-1@{DOMAIN}.eml").exists()
    assert refused.outcome is Outcome.FAILED and refused.code == "530"  # must STARTTLS first
    assert password not in repr(channel) and quote(password, safe="") not in repr(channel)


def test_email_over_implicit_tls(tmp_path: Path) -> None:
    cert, key = _self_signed_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with start_smtp_capture(folder=tmp_path / "mail", tls_context=server_tls,
                            implicit_tls=True, credentials=("mailer", "pw")) as smtp:
        assert smtp.url.startswith("smtps://")
        url = smtp.url.replace("smtps://", "smtps://mailer:pw@")
        [result] = run(_send_and_close(email_channel(url, ca_file=str(cert)),
                                       [mail("tls-2", "a@campus.example.edu")]))
    assert result.outcome is Outcome.SENT, result


def test_email_refused_login_stops_the_account_without_leaking_it(tmp_path: Path) -> None:
    with start_smtp_capture(folder=tmp_path, credentials=("mailer", "right-one")) as smtp:
        channel = email_channel(f"smtp://mailer:wrong-secret@127.0.0.1:{smtp.port}")
        results = run(_send_and_close(channel, [mail("x-1", "a@campus.example.edu"),
                                                mail("x-2", "b@campus.example.edu")]))
    assert [r.outcome for r in results] == [Outcome.STOPPED, Outcome.STOPPED]
    assert all("wrong-secret" not in (r.reason or "") for r in results)
    assert "wrong-secret" not in repr(channel)


def test_email_connection_error_retries_without_the_password() -> None:
    channel = email_channel(f"smtp://mailer:hunter22@127.0.0.1:{free_port()}")
    [result] = run(_send_and_close(channel, [mail("y-1", "a@campus.example.edu")]))
    assert result.outcome is Outcome.RETRY
    assert "hunter22" not in result.reason and "hunter22" not in repr(channel)


def test_email_bad_configuration_is_typed() -> None:
    with pytest.raises(ConfigurationError):
        EmailChannel.from_options({"url": "http://mail.example.edu"}, ChannelDeps())
    with pytest.raises(ConfigurationError):
        EmailChannel.from_options({}, ChannelDeps())


async def _send_and_close(channel: Any, messages: list[OutboundMessage]) -> list[Any]:
    try:
        return await channel.send(messages)
    finally:
        await channel.aclose()


def _self_signed_cert(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# ---- HTTP channels against a scripted local server ---------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def http_server(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/send", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/send"
    finally:
        await runner.cleanup()


class ScriptedGateway:
    """Answers by phone number, like a provider would for these cases; keeps what it saw."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def __call__(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        answers = {
            "+8613800000001": (200, {"message_id": "gw-1"}, {}),
            "+8613800000002": (429, {"error": "slow down"}, {"Retry-After": "7"}),
            "+8613800000003": (500, {"error": "internal"}, {}),
            "+8613800000004": (400, {"error": "invalid number"}, {}),
            "+8613800000005": (503, {"message": "maintenance"}, {"Retry-After": "2.5"}),
        }
        status, data, headers = answers[body["to"]]
        return web.json_response(data, status=status, headers=headers)


def sms(delivery_id: str, phone: str) -> OutboundMessage:
    return OutboundMessage(delivery_id, phone, {"text": f"Library notice {delivery_id}"})


def test_sms_gateway_maps_each_status_and_sends_the_idempotency_key() -> None:
    gateway = ScriptedGateway()

    async def scenario() -> list[Any]:
        async with http_server(gateway) as url:
            channel = SmsGatewayChannel.from_options({"url": url, "token": "tok-123456"},
                                                     ChannelDeps())
            return await _send_and_close(channel, [sms(f"d{i}", f"+861380000000{i}")
                                                   for i in range(1, 6)])

    results = {r.delivery_id: r for r in run(scenario())}
    assert results["d1"].outcome is Outcome.SENT and results["d1"].provider_message_id == "gw-1"
    assert (results["d2"].outcome, results["d2"].code, results["d2"].retry_after) == (
        Outcome.RETRY, "429", 7.0)
    assert results["d3"].outcome is Outcome.RETRY and results["d3"].code == "500"
    assert (results["d4"].outcome, results["d4"].code, results["d4"].reason) == (
        Outcome.FAILED, "400", "invalid number")
    assert results["d5"].retry_after == 2.5 and results["d5"].reason == "maintenance"
    for headers, body in gateway.requests:
        assert headers["Idempotency-Key"] == body["id"]
        assert headers["Authorization"] == "Bearer tok-123456"
        assert body["text"] == f"Library notice {body['id']}"


def test_sms_gateway_unreachable_or_slow_means_retry() -> None:
    async def scenario() -> list[Any]:
        release = asyncio.Event()

        async def stalled(request: web.Request) -> web.Response:
            await release.wait()  # answers only after the client gave up
            return web.json_response({"id": "late"})

        closed = SmsGatewayChannel(f"http://127.0.0.1:{free_port()}/send")
        results = await _send_and_close(closed, [sms("a", "+8613800000001")])
        async with http_server(stalled) as url:
            slow = SmsGatewayChannel(url, timeout=0.2)
            results += await _send_and_close(slow, [sms("b", "+8613800000001")])
            release.set()
        return results

    assert [r.outcome for r in run(scenario())] == [Outcome.RETRY, Outcome.RETRY]


def test_retry_after_accepts_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 50 < parse_retry_after(_http_date(60)) <= 60


def _http_date(seconds_ahead: int) -> str:
    from email.utils import format_datetime
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_ahead)
    return format_datetime(when, usegmt=True)


def test_secrets_stay_out_of_repr_and_reasons() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"error": f"bad token {request.headers['Authorization']}"},
                                 status=403)

    async def scenario() -> Any:
        async with http_server(echo) as url:
            channel = SmsGatewayChannel(url, "s3cret-token")
            return channel, (await _send_and_close(channel, [sms("a", "+8613800000001")]))[0]

    channel, result = run(scenario())
    assert "s3cret-token" not in repr(channel) and "s3cret-token" not in result.reason
    assert result.outcome is Outcome.FAILED and result.code == "403"
    assert "hook-secret" not in repr(WebhookChannel("http://127.0.0.1:1/x", "hook-secret"))


# ---- webhook -----------------------------------------------------------------------------------

def test_webhook_is_signed_and_the_receiver_verifies_it() -> None:
    seen: list[dict[str, Any]] = []

    async def receiver(request: web.Request) -> web.Response:
        raw = await request.read()
        ok = verify_signature("hook-secret", request.headers["X-Clarion-Timestamp"], raw,
                              request.headers["X-Clarion-Signature"])
        if not ok:
            return web.json_response({"error": "bad signature"}, status=403)
        seen.append(json.loads(raw))
        return web.Response(status=204)

    message = OutboundMessage("w-1", "S000001", {"title": "Grade posted", "body": "A"},
                              category="grades", recipient_id="S000001", campaign_id="c-9")

    async def scenario() -> list[Any]:
        async with http_server(receiver) as url:
            good = WebhookChannel.from_options({"url": url, "secret": "hook-secret"},
                                               ChannelDeps())
            forged = WebhookChannel(url, "other-secret")
            return (await _send_and_close(good, [message])
                    + await _send_and_close(forged, [message]))

    good, forged = run(scenario())
    assert good.outcome is Outcome.SENT
    assert (forged.outcome, forged.code) == (Outcome.FAILED, "403")
    assert seen == [{"delivery_id": "w-1", "recipient_id": "S000001", "category": "grades",
                     "priority": "normal", "content": {"title": "Grade posted", "body": "A"},
                     "campaign_id": "c-9"}]


def test_verify_signature_refuses_tampering_and_old_timestamps() -> None:
    body = b'{"delivery_id":"w-1"}'
    header = sign("k", "1700000000", body)
    assert verify_signature("k", "1700000000", body, header, now=1700000010)
    assert not verify_signature("k", "1700000000", body + b" ", header, now=1700000010)
    assert not verify_signature("k", "1700000001", body, header, now=1700000010)
    assert not verify_signature("k", "1700000000", body, header, now=1700000000 + 301)
    assert not verify_signature("k", "x", body, header)
    assert not verify_signature("k", "1700000000", body, None, now=1700000010)


def test_webhook_needs_url_and_secret() -> None:
    with pytest.raises(ConfigurationError):
        WebhookChannel.from_options({"url": "http://127.0.0.1:1/x"}, ChannelDeps())


# ---- inbox -------------------------------------------------------------------------------------

def test_inbox_shapes_one_row_per_message_for_the_worker_to_write() -> None:
    channel = InboxChannel.from_options({}, ChannelDeps())
    messages = [OutboundMessage(f"i-{i}", f"S{i:06d}", {"subject": "Exam", "text": "Mon 9:00",
                                                        "url": "https://app/x"},
                                category="exams") for i in range(3)]
    rows = channel.rows(messages)
    assert len(rows) == 3 and channel.local
    assert rows[0] == {"delivery_id": "i-0", "recipient_id": "S000000", "category": "exams",
                       "title": "Exam", "body": "Mon 9:00", "url": "https://app/x"}


def test_the_inbox_never_claims_a_send_of_its_own() -> None:
    """Its rows are written by the worker with the record: a send alone would be a lie."""
    channel = InboxChannel.from_options({}, ChannelDeps())
    results = run(channel.send([OutboundMessage("i-1", "S1", {"title": "t"}),
                                OutboundMessage("i-2", "S2", {"title": "t"})]))
    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
