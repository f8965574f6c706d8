"""Rate limits per provider account, shared by every worker through the database.

A channel's limits come from its spec, ``"rate_limit": {"per_second": 5, "per_minute": 100}``,
or else from its adapter's ``default_rate_limits`` (robots: 20 a minute; ``"rate_limit": {}``
turns them off).  Each window is a token bucket, one row of ``rate_buckets``.  Tokens are
taken per provider call: one per call for most adapters, one per distinct content for those
that send each content as its own call (``one_call_per_content``: the group robots).

``"per_recipient_limit": {"per_minute": 30, "per_hour": 1000}`` adds a bucket per window and
address (WeCom's per-member caps, SMS per-number caps), all read and written in the same
transaction as the call buckets: one short transaction per batch, whatever its size.  An
adapter whose provider caps each recipient declares it as ``default_per_recipient_limits``
(WeCom application messages: 30 a minute, 1,000 an hour per member); the spec's own
``per_recipient_limit`` replaces it (``{}`` turns it off).

Calls whose token comes within :data:`MAX_SLEEP` are reserved and sent when their token is
due (several calls of one batch are paced one after another); the rest are not sent now:
they come back as RETRY with code :data:`THROTTLED` and the wait as their retry-after, so the
queue owns the delay (and no attempt is counted, the provider was never called).

Buckets are sized so that no window of the provider's length, even shifted by :data:`JITTER`
of send-time spread between workers, holds more than the limit: burst ``max(1, limit // 10)``,
refill ``(limit - burst) / (window + JITTER)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..channels.base import (
    HELD_BACK, Channel, ConfigurationError, OutboundMessage, Outcome, SendResult,
)
from ..channels.http_support import group_identical
from ..channels.registry import channel_specs
from ..settings import Settings
from ..store.db import Store

WINDOWS = {"per_second": 1.0, "per_minute": 60.0, "per_hour": 3600.0, "per_day": 86400.0}
_CUSTOM_WINDOW = re.compile(r"per_(\d+(?:\.\d+)?)s")
MAX_SLEEP = 2.0  # seconds: a shorter wait is slept off before the call, a longer one queued
JITTER = 0.2  # seconds of send-time spread between workers, kept out of every window
THROTTLED = HELD_BACK  # code of a result held back here: the provider was not called
PURGE_EVERY = 600.0  # seconds between sweeps of idle buckets (per process)
PURGE_IDLE = 86400.0 + 600.0  # a bucket idle this long is full again: its row can go
HASHED_ABOVE = 120  # longer addresses (push subscriptions …) are keyed by their digest


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: float  # most tokens held


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    seconds: float

    @property
    def bucket(self) -> Bucket:
        burst = max(1, self.limit // 10)
        return Bucket(max(self.limit - burst, 1) / (self.seconds + JITTER), float(burst))

    def __str__(self) -> str:
        return f"{self.limit} per {self.seconds:g}s"


def parse_windows(value: Any, where: str) -> tuple[Window, ...]:
    """``{"per_minute": 20, "per_2s": 5}`` as windows; a ConfigurationError names the field."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigurationError(f'{where}: expected an object such as {{"per_minute": 20}}')
    windows = []
    for key, limit in value.items():
        custom = _CUSTOM_WINDOW.fullmatch(key)
        seconds = WINDOWS.get(key) or (float(custom[1]) if custom else None)
        if not seconds or seconds > WINDOWS["per_day"]:
            raise ConfigurationError(f"{where}.{key}: unknown window (per_second, per_minute, "
                                     "per_hour, per_day or per_<N>s up to a day)")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"{where}.{key}: must be a whole number of at least 1")
        windows.append(Window(limit, seconds))
    return tuple(windows)


@dataclass(frozen=True)
class Plan:
    """What one channel is limited by."""

    channel: str
    calls: tuple[Window, ...] = ()
    per_recipient: tuple[Window, ...] = ()
    one_call_per_content: bool = False

    def call_key(self, w: Window) -> str:
        return f"{self.channel}:{w.seconds:g}s"

    def recipient_key(self, w: Window, address: str) -> str:
        if len(address) > HASHED_ABOVE:
            address = "#" + hashlib.sha256(address.encode()).hexdigest()[:32]
        return f"{self.channel}:{w.seconds:g}s:{address}"

    def units(self, messages: Sequence[OutboundMessage]) -> list[list[OutboundMessage]]:
        """The messages as the adapter will send them, one list per provider call."""
        if self.one_call_per_content:
            return group_identical(messages)
        return [list(messages)] if messages else []


@dataclass
class Admission:
    # (seconds from now, messages): calls due now go together, later ones one by one
    slices: list[tuple[float, list[OutboundMessage]]] = field(default_factory=list)
    held: list[SendResult] = field(default_factory=list)

    @property
    def send(self) -> list[OutboundMessage]:
        return [m for _wait, part in self.slices for m in part]


Send = Callable[[list[OutboundMessage]], Awaitable[list[SendResult]]]


class Limiter:
    """Shared token buckets; every read-modify-write is one short transaction in a thread
    (the store locks the rows: FOR UPDATE on PostgreSQL, SQLite's BEGIN IMMEDIATE)."""

    def __init__(self, store: Store, settings: Settings, max_sleep: float = MAX_SLEEP):
        self.store, self.max_sleep = store, max_sleep
        # channel -> its spec's (rate_limit, per_recipient_limit), None for the adapter's default
        self._configured: dict[str, tuple[Any, Any]] = {}
        for name, spec in channel_specs(settings).items():  # bad limits fail at start-up
            calls, per_recipient = spec.get("rate_limit"), spec.get("per_recipient_limit")
            parse_windows(calls, f"channel {name!r}: rate_limit")
            parse_windows(per_recipient, f"channel {name!r}: per_recipient_limit")
            self._configured[name] = (calls, per_recipient)
        self._plans: dict[str, Plan] = {}
        self._next_purge = time.monotonic() + PURGE_EVERY

    def plan(self, channel: str, adapter: Channel) -> Plan:
        if channel not in self._plans:
            calls, per_recipient = self._configured.get(channel, (None, None))
            if calls is None:
                calls = getattr(adapter, "default_rate_limits", None)
            if per_recipient is None:
                per_recipient = getattr(adapter, "default_per_recipient_limits", None)
            self._plans[channel] = Plan(
                channel, parse_windows(calls, f"channel {channel!r}: rate_limit"),
                parse_windows(per_recipient, f"channel {channel!r}: per_recipient_limit"),
                bool(getattr(adapter, "one_call_per_content", False)))
        return self._plans[channel]

    async def paced(self, channel: str, adapter: Channel, messages: Sequence[OutboundMessage],
                    send: Send) -> list[SendResult]:
        """``send`` what the channel's limits allow, each call when its token is due; what
        they don't allow comes back RETRY (code ``throttled``, retry-after until it frees)."""
        plan = self.plan(channel, adapter)
        if not (plan.calls or plan.per_recipient) or not messages:
            return await send(list(messages))
        admission = await asyncio.to_thread(self._admit, plan, list(messages))
        results, start = list(admission.held), time.monotonic()
        for i, (due, part) in enumerate(admission.slices):
            await asyncio.sleep(max(0.0, start + due - time.monotonic()))
            sent = await send(part)
            results += sent
            if halt := _whole_call_trouble(sent):  # as the adapter would: no further calls
                return results + [replace(halt, delivery_id=m.delivery_id)
                                  for _due, rest in admission.slices[i + 1:] for m in rest]
        return results

    async def acquire(self, key: str, n: float, rate: float, burst: float,
                      max_wait: float | None = None) -> float:
        """Take ``n`` tokens from one bucket.  Returns the wait: when it is at most
        ``max_wait`` the tokens are reserved and the caller sleeps that long before its call
        (0: go now); a longer wait reserves nothing and the caller should come back later."""
        limit = self.max_sleep if max_wait is None else max_wait
        return await asyncio.to_thread(self._acquire, key, n, Bucket(rate, burst), limit)

    # ---- the transactions ---------------------------------------------------------------------

    def _acquire(self, key: str, n: float, bucket: Bucket, max_wait: float) -> float:
        with self.store.connect() as conn:
            now = self.store.clock(conn)
            level = _load(self.store, conn, {key: bucket}, now)
            wait = max(0.0, (n - level[key]) / bucket.rate)
            if wait <= max_wait:
                level[key] -= n
                self.store.save_buckets(conn, level, now)
        self._maybe_purge()
        return wait

    def _admit(self, plan: Plan, messages: list[OutboundMessage]) -> Admission:
        buckets = {plan.call_key(w): w.bucket for w in plan.calls}
        per_recipient = [(w, w.bucket) for w in plan.per_recipient]
        for address in {m.address for m in messages}:
            buckets.update((plan.recipient_key(w, address), b) for w, b in per_recipient)
        with self.store.connect() as conn:
            now = self.store.clock(conn)
            level = _load(self.store, conn, buckets, now)
            admission = decide_admission(plan, messages, level, buckets, self.max_sleep)
            self.store.save_buckets(conn, level, now)
        self._maybe_purge()
        return admission

    def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY
        with self.store.connect() as conn:
            self.store.purge_buckets(conn, self.store.clock(conn) - PURGE_IDLE)


# ---- the bucket arithmetic (pure) ----------------------------------------------------------------

def decide_admission(plan: Plan, messages: list[OutboundMessage], level: dict[str, float],
                     buckets: Mapping[str, Bucket], max_wait: float) -> Admission:
    """Per-recipient caps first (no waiting: over the cap is held), then as many provider
    calls as the call buckets grant within ``max_wait``; ``level`` is debited in place."""
    trial = dict(level)
    allowed, held = [], []
    keys_of = {a: [plan.recipient_key(w, a) for w in plan.per_recipient]
               for a in {m.address for m in messages}}
    for m in messages:
        keys = keys_of[m.address]
        short = {k: (1 - trial[k]) / buckets[k].rate for k in keys if trial[k] < 1}
        if short:
            held.append(_held(m, max(short.values()), f"{plan.channel}: recipient's cap"))
            continue
        for k in keys:
            trial[k] -= 1
        allowed.append(m)
    units = plan.units(allowed)
    dues = grant(level, [(plan.call_key(w), w.bucket) for w in plan.calls], len(units),
                 max_wait)
    granted = len(dues)
    slices: list[tuple[float, list[OutboundMessage]]] = []
    for due, unit in zip(dues, units):
        if slices and due <= 0:
            slices[-1][1].extend(unit)  # tokens there now: one burst
        else:
            slices.append((due, list(unit)))
    if granted < len(units):
        later = grant_wait(level, [(plan.call_key(w), w.bucket) for w in plan.calls], 1)
        reason = f"{plan.channel}: rate limit ({', '.join(map(str, plan.calls))})"
        held += [_held(m, later, reason) for unit in units[granted:] for m in unit]
    admission = Admission(slices, held)
    for m in admission.send:
        for k in keys_of[m.address]:
            level[k] -= 1
    return admission


def grant(level: dict[str, float], keyed: list[tuple[str, Bucket]], want: int,
          max_wait: float) -> list[float]:
    """Up to ``want`` tokens that every bucket can give within ``max_wait``, taken from
    ``level``: for each, the seconds until it is due."""
    n = want
    for key, b in keyed:
        n = min(n, max(0, math.floor(level[key] + b.rate * max_wait + 1e-9)))
    dues = [grant_wait(level, keyed, i) for i in range(1, n + 1)]
    for key, _b in keyed:
        level[key] -= n
    return dues


def grant_wait(level: Mapping[str, float], keyed: list[tuple[str, Bucket]], n: float) -> float:
    """Seconds until ``n`` more tokens are there in every bucket."""
    return max([max(0.0, (n - level[key]) / b.rate) for key, b in keyed], default=0.0)


def refill(tokens: float, updated_at: float, now: float, bucket: Bucket) -> float:
    return min(bucket.burst, tokens + bucket.rate * max(0.0, now - updated_at))


def _whole_call_trouble(results: list[SendResult]) -> SendResult | None:
    """A stop, or a retry for every message: the account or the provider is the problem."""
    stopped = next((r for r in results if r.outcome is Outcome.STOPPED), None)
    if stopped or not results or any(r.outcome is not Outcome.RETRY for r in results):
        return stopped
    return results[0]


def _held(m: OutboundMessage, wait: float, why: str) -> SendResult:
    wait = max(wait, 0.05)
    return SendResult.retry(m.delivery_id, THROTTLED, f"{why}: not sent, next slot in "
                            f"{wait:.1f}s", retry_after=wait)


# ---- reading the buckets (their SQL is the store's: ``HotPath`` rate buckets) ----------------

def _load(store: Store, conn: Any, buckets: Mapping[str, Bucket], now: float
          ) -> dict[str, float]:
    """Current tokens of each bucket (a bucket never seen is full), rows locked."""
    level = {k: b.burst for k, b in buckets.items()}
    for key, tokens, updated_at in store.bucket_rows(conn, dict(level), now):
        level[key] = refill(tokens, updated_at, now, buckets[key])
    return level
