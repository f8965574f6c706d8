"""Web push never posts to a machine inside the network unless told to: a subscription whose
endpoint is a loopback, private or link-local address — written so, or a name resolving to
one — fails as ``forbidden_endpoint`` and nothing reaches it."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from clarion.channels.base import Outcome
from clarion.channels import webpush

from .providers.fake_webpush import FakePushService
from .providers.test_webpush import VAPID_PEM, VAPID_PUBLIC, SUBJECT, pushes, send


def channel(**options):  # type: ignore[no-untyped-def]
    from clarion.channels.registry import ChannelDeps
    from clarion.channels.webpush import WebPushChannel
    return WebPushChannel.from_options({"vapid_private_key": VAPID_PEM, "vapid_subject": SUBJECT,
                                        **options}, ChannelDeps())


def aimed_at(messages, host: str):  # type: ignore[no-untyped-def]
    """The same subscriptions with the endpoint's host replaced by ``host``."""
    for m in messages:
        sub = json.loads(m.address)
        scheme, rest = sub["endpoint"].split("://", 1)
        sub["endpoint"] = f"{scheme}://{host}:{rest.split(':', 1)[1]}"
        object.__setattr__(m, "address", json.dumps(sub))
    return messages


@pytest.fixture
def fake():
    with FakePushService(application_server_key=VAPID_PUBLIC) as server:
        yield server


def own_host_name() -> str:
    """This machine's name: a name (not a literal) that resolves to a non-public address."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    assert not any(webpush.is_public_address(a) for a in addresses), f"{name}: {addresses}"
    return name


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "own name"])
def test_a_loopback_endpoint_is_refused_and_nothing_is_sent(fake, host):
    messages = aimed_at(pushes(fake, 2), own_host_name() if host == "own name" else host)
    [results] = send(channel(), messages)
    assert {(r.outcome, r.code) for r in results} == {(Outcome.FAILED, "forbidden_endpoint")}
    assert fake.delivered == []


def test_a_loopback_endpoint_is_fine_when_configured(fake):
    [results] = send(channel(allow_private_endpoints=True), pushes(fake, 2))
    assert {r.outcome for r in results} == {Outcome.SENT}


@pytest.mark.parametrize("endpoint, private", [
    ("https://10.0.0.8/push/x", True), ("https://192.168.1.1/x", True),
    ("https://172.16.0.1/x", True), ("http://169.254.169.254/latest/meta-data", True),
    ("https://[::1]/x", True), ("https://[::ffff:127.0.0.1]/x", True),
    ("https://[fd00::1]/x", True),
    ("https://100.64.0.1/x", True), ("https://0.0.0.0/x", True), ("https://LOCALHOST./x", True),
    ("https://push.localhost/x", True), ("https://8.8.8.8/x", False),
    ("https://fcm.googleapis.com/fcm/send/x", False),  # a name: checked when it resolves
])
def test_address_literals_are_judged_before_sending(endpoint, private):
    assert webpush.names_private_host(endpoint) is private


def test_the_resolver_keeps_only_public_addresses():
    async def resolve(host: str):  # type: ignore[no-untyped-def]
        resolver = webpush.PublicOnlyResolver()
        try:
            return await resolver.resolve(host, 443)
        finally:
            await resolver.close()
    with pytest.raises(webpush.PrivateEndpoint):
        asyncio.run(resolve("localhost"))
    assert [r["host"] for r in asyncio.run(resolve("8.8.8.8"))] == ["8.8.8.8"]
