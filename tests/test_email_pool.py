"""The email channel's connection pool against a real aiosmtpd server: a call spreads over the
free connections, concurrent calls share at most ``connections`` of them, and each message
still gets one attempt, its own result and its deterministic Message-ID."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clarion.channels.base import ConfigurationError, Outcome
from clarion.channels.email import DEFAULT_CONNECTIONS, EmailChannel
from clarion.demo.capture import start_smtp_capture

from .test_channels_core import DOMAIN, email_channel, mail


def test_concurrent_calls_share_at_most_the_pool_and_every_message_goes_once(tmp_path: Path):
    calls = [[mail(f"c{c}-{i}", f"s{c}{i:04d}@campus.example.edu") for i in range(20)]
             for c in range(5)]

    async def scenario(channel: EmailChannel) -> list[list]:  # type: ignore[type-arg]
        try:
            return list(await asyncio.gather(*(channel.send(call) for call in calls)))
        finally:
            await channel.aclose()

    with start_smtp_capture(folder=tmp_path) as smtp:
        answers = asyncio.run(scenario(email_channel(smtp.url, connections=3)))
        stats = smtp.stats()
    assert stats == {"received": 100, "connections": 3}
    for call, results in zip(calls, answers):  # one result per message, in its call's order
        assert [r.delivery_id for r in results] == [m.delivery_id for m in call]
        assert all(r.outcome is Outcome.SENT for r in results)
        assert [r.provider_message_id for r in results] == \
            [f"<{m.delivery_id}@{DOMAIN}>" for m in call]
    names = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert names == sorted(f"{m.delivery_id}@{DOMAIN}.eml" for call in calls for m in call)


def test_one_call_spreads_over_the_pool_and_refusals_stay_per_message(tmp_path: Path):
    messages = [mail(f"m-{i}", f"s{i:04d}@campus.example.edu") for i in range(12)]
    messages[5] = mail("gone", "gone@campus.example.edu")

    async def scenario(channel: EmailChannel) -> list:  # type: ignore[type-arg]
        try:
            return await channel.send(messages)
        finally:
            await channel.aclose()

    with start_smtp_capture(folder=tmp_path, fail_rcpt={"gone@campus.example.edu"}) as smtp:
        results = asyncio.run(scenario(email_channel(smtp.url)))
        stats = smtp.stats()
    assert stats["connections"] == DEFAULT_CONNECTIONS and stats["received"] == 11
    assert results[5].outcome is Outcome.FAILED and results[5].code == "550"
    assert [r.outcome for i, r in enumerate(results) if i != 5] == [Outcome.SENT] * 11


def test_the_pool_size_is_checked():
    with pytest.raises(ConfigurationError, match="connections"):
        email_channel("smtp://127.0.0.1:25", connections=0)
