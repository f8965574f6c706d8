"""Apprise: the contract over real HTTP to a local ntfy, the allow-list and the reasons."""

from __future__ import annotations

import asyncio
import time

import pytest

from clarion.channels import apprise_channel
from clarion.channels.apprise_channel import AppriseChannel
from clarion.channels.base import ConfigurationError, OutboundMessage, Outcome
from clarion.channels.registry import ChannelDeps

from .contract import ContractSuite, ProviderCase, make_messages
from .fake_ntfy import FakeNtfy

USER, PASSWORD = "clarion", "ntfy-pass-8d2f1a"


def ntfy_url(fake: FakeNtfy, topic: str = "campus-alerts", password: str = PASSWORD) -> str:
    host = fake.base_url.removeprefix("http://")
    return f"ntfy://{USER}:{password}@{host}/{topic}"


def send(channel, *batches):
    async def go():
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.aclose()
    return asyncio.run(go())


class AppriseCase(ProviderCase):
    name = "apprise"
    batch_limit = 1
    permanent_code = "400"

    def start_fake(self):
        return FakeNtfy(USER, PASSWORD).start()

    def make_channel(self, fake):
        return AppriseChannel.from_options({"urls": [ntfy_url(fake)]}, ChannelDeps())

    def secrets(self):
        return [PASSWORD]


class TestApprise(ContractSuite):
    case = AppriseCase()


@pytest.fixture
def fake():
    with FakeNtfy(USER, PASSWORD) as server:
        yield server


def test_it_really_posts_to_the_service(fake):
    msgs = make_messages(2, identical=False)
    [results] = send(AppriseChannel.from_options({"urls": ntfy_url(fake)}, ChannelDeps()), msgs)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(p["message"] for p in fake.published) == [
        "CS101 moves to Hall B (for #0)", "CS101 moves to Hall B (for #1)"]
    assert {(p["topic"], p["title"]) for p in fake.published} == {("campus-alerts",
                                                                    "Room change")}


def test_no_retries_and_no_throttling_sleeps(fake):
    fake.fail_next("retryable", 10)
    channel = AppriseChannel.from_options({"urls": [ntfy_url(fake) + "?retry=3"]},
                                          ChannelDeps())
    started = time.monotonic()
    [results] = send(channel, make_messages(3))
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert len(fake.calls_of("send")) == 3, "one attempt per message"
    [[again]] = send(channel, make_messages(1))  # a second send right away: no 5.5 s wait
    assert again.outcome is Outcome.RETRY and time.monotonic() - started < 3


def test_reason_carries_the_service_answer_and_no_secret(fake):
    fake.fail_next("rate_limited")
    [[result]] = send(AppriseChannel.from_options({"urls": [ntfy_url(fake)]}, ChannelDeps()),
                      make_messages(1))
    assert (result.outcome, result.code, result.retry_after) == (Outcome.RETRY, "429", 60.0)
    assert "too many requests" in result.reason and PASSWORD not in result.reason


def test_wrong_password_stops(fake):
    channel = AppriseChannel.from_options({"urls": [ntfy_url(fake, password="wrong-pass-0")]},
                                          ChannelDeps())
    [[result]] = send(channel, make_messages(1))
    assert (result.outcome, result.code) == (Outcome.STOPPED, "401")
    assert "wrong-pass-0" not in f"{result.reason} {channel!r}"


def test_partial_when_one_of_two_services_fails(fake):
    with FakeNtfy() as down:
        urls = [ntfy_url(fake), f"ntfy://{down.base_url.removeprefix('http://')}/t"]
    channel = AppriseChannel.from_options({"urls": urls}, ChannelDeps())
    [[result]] = send(channel, make_messages(1))
    assert (result.outcome, result.code) == (Outcome.SENT, "partial")
    assert len(fake.published) == 1


def test_address_is_url(fake):
    msgs = make_messages(2, address=lambda i: ntfy_url(fake, topic=f"user{i}"))
    msgs.append(OutboundMessage("j", f"json://{fake.base_url.removeprefix('http://')}/hook",
                                {"text": "x"}))
    msgs.append(OutboundMessage("a", ntfy_url(fake) + "?attach=file:///etc/passwd",
                                {"text": "x"}))
    channel = AppriseChannel.from_options({"address_is_url": True}, ChannelDeps())
    by_id = {r.delivery_id: r for r in send(channel, msgs)[0]}
    assert by_id["d00000"].outcome is by_id["d00001"].outcome is Outcome.SENT
    assert (by_id["j"].outcome, by_id["j"].code) == (Outcome.FAILED, "scheme_not_allowed")
    assert (by_id["a"].outcome, by_id["a"].code) == (Outcome.FAILED, "attachment_not_allowed")
    assert sorted(p["topic"] for p in fake.published) == ["user0", "user1"]


@pytest.mark.parametrize("url", ["json://127.0.0.1/hook", "form://10.0.0.1/x",
                                 "xml://intranet/x", "pover://user@token", "file:///etc/passwd",
                                 "ntfy://127.0.0.1/topic?attach=/etc/passwd"])
def test_refused_urls_at_construction(url):
    with pytest.raises(ConfigurationError, match="refused"):
        AppriseChannel.from_options({"urls": [url]}, ChannelDeps())


def test_json_stays_refused_even_when_allow_listed():
    with pytest.raises(ConfigurationError, match="scheme_not_allowed"):
        AppriseChannel.from_options({"urls": ["json://127.0.0.1/x"],
                                     "allowed_schemes": ["json", "ntfy"]}, ChannelDeps())


def test_no_urls_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="urls required"):
        AppriseChannel.from_options({}, ChannelDeps())


def test_repr_shows_the_masked_service_not_the_password(fake):
    text = repr(AppriseChannel.from_options({"urls": [ntfy_url(fake)]}, ChannelDeps()))
    assert PASSWORD not in text and "ntfy://" in text


def test_url_secrets_pick_credentials_not_hosts():
    assert apprise_channel.url_secrets("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/"
                                       "-100123456/") == [
        "123456789", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "-100123456"]
    assert apprise_channel.url_secrets("ntfy://u:secretpw@ntfy.example.edu/alerts?token=tk_abc123"
                                       ) == ["secretpw", "alerts", "tk_abc123"]


def test_pinned_below_two():
    import apprise
    assert int(apprise.__version__.split(".")[0]) < 2
