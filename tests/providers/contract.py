"""The contract every provider adapter keeps, as one suite run against each adapter's fake.

How to plug an adapter in (``tests/providers/test_<adapter>.py``)::

    from .contract import ContractSuite, ProviderCase, make_messages
    from .fake_dingtalk import FakeDingtalk

    class DingtalkCase(ProviderCase):
        name = "dingtalk"
        batch_limit = 100                   # recipients one provider call carries
        permanent_code = "..."              # code expected on a permanent recipient error

        def start_fake(self):               # started; closed by the suite
            return FakeDingtalk(secret=SECRET).start()

        def make_channel(self, fake):       # pointed at fake.base_url
            return DingtalkChannel.from_options({...}, ChannelDeps())

        def messages(self, n, identical=True):
            return make_messages(n, identical)

        def secrets(self):                  # strings that must never show
            return [SECRET]

    class TestDingtalk(ContractSuite):
        case = DingtalkCase()

The fake (see ``fakeserver.FakeServer``) is a local HTTP server with ``base_url``, ``calls``
(each a dict: kind "send" | "token" | …, method, path, query, headers, body, json),
``rejected`` (the addresses it refused in "partial" mode), ``modes`` (the failure modes it
can play), ``clear_failures()``, ``close()`` and ``fail_next(mode, n=1)`` where mode is one of
``fakeserver.MODES``; a queued failure applies to the next ``n`` provider
calls of kind "send" (never to token calls).  "token_expired" also invalidates the token the
fake had issued, so a replay has to use a fresh one.

Capability flags on the case switch off what does not apply; the test is then skipped with a
reason naming the capability (or the failure mode the fake does not play).  Everything
applicable runs.  Fidelity cases, for what a provider does quietly:

* ``fits_oversized``: content over the provider's size limits (``case.oversized_messages``)
  is sent cut to fit, the cut noted in each result's reason, and the provider had nothing left
  to cut or hide itself (``case.provider_cuts(fake)``, default ``fake.cut``);
* ``per_recipient_cap = (limit, seconds)``: the provider drops, silently, a recipient's
  messages beyond ``limit`` per ``seconds``; through the worker's shared rate limiter (a real
  database, the ``store`` fixture) the excess comes back as a wait and nothing is dropped
  (``case.provider_dropped(fake)``, default ``fake.dropped``);
* ``supports_recipient_cap``: a recipient over the provider's per-recipient cap makes it refuse
  the whole call (Aliyun); ``case.cap_recipient(fake, address)`` puts one there.  The others
  must go out within a few sends and without one call each, and a later campaign must not be
  sunk by the same recipient again;
* failure modes ``"misconfigured"`` (stop the account, fail nobody) and ``"unreadable"`` (a
  proxy's page instead of the provider's reply: retry, quoting its first bytes), where the
  fake plays them;
* with ``supports_token``, a token is renewed before it expires (``case.short_lived_fake``).

Calls are counted with ``case.send_calls(fake)`` / ``case.token_calls(fake)``; override them
if the fake names its kinds differently.  ``batch_limit`` is how many recipients of identical
content one provider call carries (1 for one-recipient APIs; a group bot whose call reaches
the whole group sets it to the channel's ``max_batch``).  The suite hands messages to ``send``
``max_batch`` at a time, as the worker does, and may call ``make_channel`` more than once per
fake.

An adapter may return results or raise a ``ChannelError`` for a whole-call problem; the suite
spreads a raised error over the batch like the worker does (``results_for_all``), and checks
that the error's text carries no secret either.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from clarion.channels.base import (
    HELD_BACK, ChannelError, Outcome, OutboundMessage, SendResult, results_for_all,
)

from .fakeserver import UNREADABLE_START

ALWAYS = 10**6  # fail_next(mode, ALWAYS): every call fails while the test runs
REDO_ROUNDS = 5  # sends in which the queue would redo what came back RETRY


def make_messages(n: int, identical: bool = True, *, address: Callable[[int], str] | None = None,
                  content: Callable[[int], dict[str, str]] | None = None,
                  prefix: str = "d") -> list[OutboundMessage]:
    """``n`` messages with unique delivery ids; same content for all unless ``identical=False``."""
    address = address or (lambda i: f"user{i:05d}")
    content = content or (lambda i: {"title": "Room change",
                                     "text": "CS101 moves to Hall B" + ("" if identical
                                                                         else f" (for #{i})")})
    return [OutboundMessage(delivery_id=f"{prefix}{i:05d}", address=address(i), content=content(i),
                            category="course", campaign_id="c1") for i in range(n)]


class ProviderCase:
    """What one adapter's test supplies to the contract suite."""

    name = "provider"
    # capabilities: turn off what the provider does not have
    supports_partial = False           # one call, some recipients refused (invaliduser …)
    supports_token = False             # access token fetched, cached, refreshed on expiry
    supports_rate_limit = True
    supports_account_stop = True
    supports_retryable = True
    supports_permanent_recipient = True
    supports_transport_error = True    # connection refused -> RETRY
    batch_limit = 1                    # recipients of identical content one provider call carries
    small_n = 5                        # messages in the ordinary tests
    batch_n: int | None = None         # messages in the batching test (default 2*limit+1)
    permanent_code: str | None = None  # expected code of a permanent recipient error
    partial_code: str | None = None    # expected code of a recipient refused in partial mode
    token_expiry_n: int | None = None  # messages per batch in the token-expiry test (1 for an
    #                                    API sent concurrently, one call per message)
    fits_oversized = False             # oversized content cut to fit and the cut noted
    per_recipient_cap: tuple[int, float] | None = None  # (limit, seconds) the provider drops past
    supports_recipient_cap = False     # a recipient over its cap sinks the whole call
    cap_n = 60                         # messages in the recipient-cap test

    def start_fake(self) -> Any:
        raise NotImplementedError

    def make_channel(self, fake: Any) -> Any:
        raise NotImplementedError

    def messages(self, n: int, identical: bool = True) -> list[OutboundMessage]:
        return make_messages(n, identical)

    def secrets(self) -> list[str]:
        return []

    def oversized_messages(self, n: int) -> list[OutboundMessage]:
        raise NotImplementedError

    def provider_cuts(self, fake: Any) -> list[Any]:
        return list(fake.cut)

    def provider_dropped(self, fake: Any) -> list[Any]:
        return list(fake.dropped)

    def cap_recipient(self, fake: Any, address: str) -> None:
        raise NotImplementedError

    def short_lived_fake(self, token_ttl: float) -> Any:
        return self.start_fake(token_ttl=token_ttl)

    def send_calls(self, fake: Any) -> list[dict[str, Any]]:
        return [c for c in fake.calls if c["kind"] == "send"]

    def token_calls(self, fake: Any) -> list[dict[str, Any]]:
        return [c for c in fake.calls if c["kind"] == "token"]

    def expected_calls(self, n: int, max_batch: int) -> int:
        """Provider calls for ``n`` identical messages handed over ``max_batch`` at a time."""
        full, rest = divmod(n, max_batch)
        per = math.ceil(max_batch / self.batch_limit)
        return full * per + (math.ceil(rest / self.batch_limit) if rest else 0)


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class ContractSuite:
    """Subclass as ``class TestX(ContractSuite): case = XCase()``."""

    case: ProviderCase

    # ---- plumbing ---------------------------------------------------------------------------
    @pytest.fixture
    def fake(self):
        fake = self.case.start_fake()
        try:
            yield fake
        finally:
            fake.close()

    @pytest.fixture
    def channel(self, fake):
        return self.case.make_channel(fake)

    def require(self, capability: str) -> None:
        if not getattr(self.case, capability):
            pytest.skip(f"{self.case.name}: capability {capability} not offered by the provider")

    def require_mode(self, fake: Any, mode: str) -> None:
        if mode not in fake.modes:
            pytest.skip(f"{self.case.name}: the fake does not play failure mode {mode!r}")

    errors: list[ChannelError]

    async def _send(self, channel: Any, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        try:
            return list(await channel.send(batch))
        except ChannelError as exc:  # a whole-call error: the worker spreads it over the batch
            self.errors = [*getattr(self, "errors", []), exc]
            return results_for_all(batch, exc)

    def run(self, channel: Any, *batches: Sequence[OutboundMessage],
            between: Callable[[int], None] | None = None) -> list[SendResult]:
        """Send the batches in order on one event loop; ``between(i)`` runs before batch i>0."""
        async def go() -> list[SendResult]:
            results: list[SendResult] = []
            try:
                for i, batch in enumerate(batches):
                    if i and between:
                        between(i)
                    results += await self._send(channel, batch)
            finally:
                await channel.aclose()
            return results
        return asyncio.run(go())

    def send_all(self, channel: Any, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Hand the messages over ``max_batch`` at a time, as the worker does."""
        return self.run(channel, *chunked(messages, channel.max_batch))

    @staticmethod
    def assert_one_each(messages: Sequence[OutboundMessage], results: list[SendResult]) -> None:
        got = [r.delivery_id for r in results]
        assert sorted(got) == sorted(m.delivery_id for m in messages), "one result per message"

    @staticmethod
    def outcomes(results: list[SendResult]) -> set[Outcome]:
        return {r.outcome for r in results}

    # ---- the contract -----------------------------------------------------------------------
    def test_all_sent_one_result_each(self, fake, channel):
        msgs = self.case.messages(self.case.small_n)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}, results

    def test_personalised_content_one_call_per_message(self, fake, channel):
        msgs = self.case.messages(self.case.small_n, identical=False)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}, results
        assert len(self.case.send_calls(fake)) == len(msgs)

    def test_batching_identical_content(self, fake, channel):
        n = self.case.batch_n or 2 * self.case.batch_limit + 1
        msgs = self.case.messages(n)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}
        expected = self.case.expected_calls(n, channel.max_batch)
        assert len(self.case.send_calls(fake)) == expected

    def test_partial_success_per_recipient(self, fake, channel):
        self.require("supports_partial")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("partial")
        results = {r.delivery_id: r for r in self.send_all(channel, msgs)}
        assert len(results) == len(msgs)
        assert fake.rejected and len(fake.rejected) < len(msgs), "the fake refuses some, not all"
        for m in msgs:
            r = results[m.delivery_id]
            if m.address in fake.rejected:
                assert r.outcome is Outcome.FAILED, r
                assert r.code and (self.case.partial_code in (None, r.code)), r
            else:
                assert r.outcome is Outcome.SENT, r

    def test_token_expired_mid_campaign_refreshed_once_and_replayed(self, fake, channel):
        self.require("supports_token")
        n = self.case.token_expiry_n or self.case.small_n
        msgs = self.case.messages(2 * n)
        results = self.run(channel, msgs[:n], msgs[n:],
                           between=lambda i: fake.fail_next("token_expired"))
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}, results
        assert len(self.case.token_calls(fake)) == 2
        per_batch = self.case.expected_calls(n, channel.max_batch)
        assert len(self.case.send_calls(fake)) == 2 * per_batch + 1, "one replay"

    def test_rate_limited_is_retry_with_wait(self, fake, channel):
        self.require("supports_rate_limit")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("rate_limited", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.RETRY}, results
        assert all(r.retry_after and r.retry_after > 0 for r in results), results

    def test_account_stop_stops_all(self, fake, channel):
        self.require("supports_account_stop")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("account_stop", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.STOPPED}, results
        assert all(r.retry_after and r.retry_after > 0 for r in results), results

    def test_retryable_provider_error(self, fake, channel):
        self.require("supports_retryable")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("retryable", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.RETRY}, results

    def test_permanent_recipient_error_failed_with_code(self, fake, channel):
        self.require("supports_permanent_recipient")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("permanent_recipient", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.FAILED}, results
        for r in results:
            assert r.code and (self.case.permanent_code in (None, r.code)), r

    def test_transport_error_is_retry(self, fake, channel):
        self.require("supports_transport_error")
        msgs = self.case.messages(self.case.small_n)
        fake.close()
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.RETRY}, results

    def test_token_renewed_before_it_expires(self):
        self.require("supports_token")
        fake = self.case.short_lived_fake(token_ttl=3.0)
        try:
            n = self.case.token_expiry_n or self.case.small_n
            msgs = self.case.messages(2 * n)
            results = self.run(self.case.make_channel(fake), msgs[:n], msgs[n:],
                               between=lambda i: time.sleep(2.0))  # past half its life
            self.assert_one_each(msgs, results)
            assert self.outcomes(results) == {Outcome.SENT}, results
            # asked again before it expired (a provider may hand the same token back while it
            # is valid, as WeChat's stable_token does: then it is asked a few times more)
            assert len(self.case.token_calls(fake)) >= 2, "renewed before it expired"
            per_batch = self.case.expected_calls(n, max(n, 1))
            assert len(self.case.send_calls(fake)) == 2 * per_batch, "no call met a stale token"
        finally:
            fake.close()

    # ---- fidelity: what a provider does quietly -----------------------------------------------
    def test_oversized_content_is_fitted_and_noted(self, fake, channel):
        self.require("fits_oversized")
        msgs = self.case.oversized_messages(self.case.small_n)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.SENT}, results
        assert all(r.reason and " cut " in r.reason for r in results), results
        assert self.case.provider_cuts(fake) == [], "the provider had to cut or hide content"

    def test_misconfigured_account_stops_without_failing_anyone(self, fake, channel):
        self.require_mode(fake, "misconfigured")
        msgs = self.case.messages(self.case.small_n, identical=False)
        fake.fail_next("misconfigured", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.STOPPED}, results
        assert all(r.retry_after and r.retry_after > 0 for r in results), results
        assert len(self.case.send_calls(fake)) == 1, "no calls after the account stopped"

    def test_unreadable_reply_is_retry_quoting_its_first_bytes(self, fake, channel):
        self.require_mode(fake, "unreadable")
        msgs = self.case.messages(self.case.small_n)
        fake.fail_next("unreadable", ALWAYS)
        results = self.send_all(channel, msgs)
        self.assert_one_each(msgs, results)
        assert self.outcomes(results) == {Outcome.RETRY}, results
        assert all(UNREADABLE_START in (r.reason or "") for r in results), results

    def test_per_recipient_cap_makes_the_excess_wait(self, fake, store):
        if not self.case.per_recipient_cap:
            pytest.skip(f"{self.case.name}: the provider has no silent per-recipient cap")
        from clarion.settings import Settings
        from clarion.worker.ratelimit import Limiter
        limit, _seconds = self.case.per_recipient_cap
        one = self.case.messages(1)[0].address
        msgs = [replace(m, address=one) for m in self.case.messages(limit + 10, identical=False)]
        channel = self.case.make_channel(fake)
        limiter = Limiter(store, Settings(channels={"capped": {"type": self.case.name}}))

        async def go() -> list[SendResult]:
            try:
                return await limiter.paced("capped", channel, msgs, channel.send)
            finally:
                await channel.aclose()
        results = asyncio.run(go())
        self.assert_one_each(msgs, results)
        assert self.case.provider_dropped(fake) == [], "the provider dropped messages"
        sent = [r for r in results if r.outcome is Outcome.SENT]
        waiting = [r for r in results if r.outcome is Outcome.RETRY]
        assert len(sent) + len(waiting) == len(msgs) and 0 < len(sent) <= limit, results
        assert all(r.code == HELD_BACK and r.retry_after for r in waiting), waiting

    def test_recipient_over_its_cap_waits_alone_and_is_remembered(self, fake, channel):
        self.require("supports_recipient_cap")
        msgs = self.case.messages(self.case.cap_n)
        capped = msgs[len(msgs) // 3]
        self.case.cap_recipient(fake, capped.address)
        final = self.redo_until_final(channel, msgs)
        others = [m for m in msgs if m is not capped]
        assert {final[m.delivery_id].outcome for m in others} == {Outcome.SENT}, final
        assert final[capped.delivery_id].outcome is Outcome.RETRY
        assert final[capped.delivery_id].retry_after >= 60
        assert len(self.case.send_calls(fake)) < len(msgs) / 2, "not one call per recipient"
        calls_before = len(self.case.send_calls(fake))
        # a later campaign: the capped recipient again, among others not met yet
        n = len(msgs)
        later = [replace(m, delivery_id=f"later-{m.delivery_id}")
                 for m in [capped, *self.case.messages(2 * n)[n + 1:]]]
        results = {r.delivery_id: r for r in self.run(channel, later)}
        assert results[later[0].delivery_id].outcome is Outcome.RETRY
        assert {results[m.delivery_id].outcome for m in later[1:]} == {Outcome.SENT}
        expected = self.case.expected_calls(n - 1, channel.max_batch)
        assert len(self.case.send_calls(fake)) == calls_before + expected, "the rest in one go"

    def redo_until_final(self, channel: Any, msgs: Sequence[OutboundMessage]
                         ) -> dict[str, SendResult]:
        """Send, then send again what came back RETRY, as the queue would (a few rounds)."""
        async def go() -> dict[str, SendResult]:
            final: dict[str, SendResult] = {}
            pending = list(msgs)
            try:
                for _round in range(REDO_ROUNDS):
                    final.update((r.delivery_id, r) for r in await self._send(channel, pending))
                    pending = [m for m in pending if final[m.delivery_id].outcome
                               is Outcome.RETRY and final[m.delivery_id].code != HELD_BACK]
                    if not pending:
                        break
            finally:
                await channel.aclose()
            return final
        return asyncio.run(go())

    def test_secrets_never_shown(self, fake, channel):
        secrets = [s for s in self.case.secrets() if s]
        assert secrets, "the case names the secrets to look for"
        texts = [repr(channel), str(channel)]
        for mode in ("account_stop", "permanent_recipient", "retryable", "rate_limited"):
            if mode in fake.modes:
                fake.clear_failures()
                fake.fail_next(mode, ALWAYS)
                texts += self.reasons(self.case.make_channel(fake))
        if self.case.supports_transport_error:
            fake.close()
            texts += self.reasons(self.case.make_channel(fake))
        texts += [str(e) for e in getattr(self, "errors", [])]
        for text in texts:
            for secret in secrets:
                assert secret not in text, f"secret shown in {text!r}"

    def reasons(self, channel: Any) -> list[str]:
        results = self.send_all(channel, self.case.messages(2))
        return [f"{r.reason} {r.code}" for r in results]
