"""Metrics read at scrape time from the broker, the store and Prefect.

They describe shared state (queues, backlog, campaigns), so any process may export them and
the dashboards take the ``max`` across processes.  Each read is bounded by a timeout and
cached for a few seconds so that a slow broker never stalls a scrape.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from ..broker.names import Names
from ..settings import Settings
from ..store import policy as policy_sql
from ..store.db import Store
from ..store.models import Campaign, Delivery

log = logging.getLogger(__name__)


class Cached:
    """The last value of ``fn`` for ``ttl`` seconds; the previous value if ``fn`` fails."""

    def __init__(self, fn: Callable[[], Any], ttl: float = 5.0):
        self.fn, self.ttl = fn, ttl
        self.value: Any = None
        self.at = 0.0
        self.lock = threading.Lock()

    def get(self) -> Any:
        with self.lock:
            if time.monotonic() - self.at >= self.ttl:
                try:
                    self.value = self.fn()
                except Exception as exc:  # noqa: BLE001 - a scrape must not fail
                    log.debug("collector read failed: %s", exc)
                self.at = time.monotonic()
            return self.value


class QuietProbes(logging.Filter):
    """Drops pika's warning about a queue that does not exist (``404 NOT_FOUND``) when it comes
    from a probe connection of this module; the same warning on any other connection stays.

    A passive declare is AMQP's only way to ask whether a queue exists, and the broker answers
    "no" by closing the channel, which pika logs as a warning: on a fresh vhost (before the
    worker has declared its own queues) and for channels nobody serves, that was ~17 warnings
    at a worker's start and 4 per channel not served on every scrape."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) < 3 or args[0] != 404:
            return True
        return getattr(args[-1], "connection", None) not in self.connections


QUIET_PROBES = QuietProbes()
logging.getLogger("pika.channel").addFilter(QUIET_PROBES)


def queue_stats(settings: Settings, channels: Iterable[str]) -> dict[str, tuple[int, int]]:
    """queue → (ready messages, consumers) of the queues that exist, by passive declares on a
    short connection; a queue not declared yet is left out, quietly."""
    import pika

    from ..broker.amqp import connection_parameters
    names = Names(settings.broker_namespace)
    params = connection_parameters(settings.broker_url.get_secret_value(),
                                   str(settings.broker_ca_file) if settings.broker_ca_file else None)
    conn = pika.BlockingConnection(params)
    QUIET_PROBES.connections.add(conn._impl)
    try:
        wanted = [q for channel in channels for q in names.queues(channel)]
        wanted += [names.dead, names.campaign_runs]
        return _existing_queues(conn, wanted, no_consumers={names.dead})
    finally:
        conn.close()


def _existing_queues(conn: Any, queues: list[str], no_consumers: set[str]
                     ) -> dict[str, tuple[int, int]]:
    import pika
    out: dict[str, tuple[int, int]] = {}
    ch = conn.channel()
    for q in queues:
        try:
            ok = ch.queue_declare(q, passive=True).method
        except pika.exceptions.ChannelClosedByBroker:
            ch = conn.channel()  # not declared yet
            continue
        out[q] = (ok.message_count, 0 if q in no_consumers else ok.consumer_count)
    return out


def store_stats(store: Store, channels: Iterable[str] = ()) -> dict[str, Any]:
    """Backlog age per channel (0 when nothing waits) and campaigns by state."""
    now = datetime.now(timezone.utc)
    with store.connect() as conn:
        oldest = conn.execute(select(Delivery.channel, func.min(Delivery.updated_at)).where(
            Delivery.status == "queued").group_by(Delivery.channel)).all()
        by_state = conn.execute(select(Campaign.status, func.count()).group_by(
            Campaign.status)).all()
    ages = {channel: 0.0 for channel in channels}
    for channel, at in oldest:
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        ages[channel] = max(0.0, (now - at).total_seconds())
    return {"backlog_age": ages, "campaigns": dict(by_state),
            "decisions": policy_sql.counters(store)}


def prefect_flow_runs(api_url: str, flow_name: str = "broadcast") -> dict[str, int]:
    """Flow runs of the broadcast flow by state type, counted by Prefect's API."""
    import httpx
    states = ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED")
    out = {}
    with httpx.Client(base_url=api_url, timeout=3) as client:
        for state in states:
            body = {"flows": {"name": {"any_": [flow_name]}},
                    "flow_runs": {"state": {"type": {"any_": [state]}}}}
            r = client.post("/flow_runs/count", json=body)
            r.raise_for_status()
            out[state.lower()] = int(r.json())
    return out


class ClarionCollector(Collector):
    def __init__(self, settings: Settings, store: Store, channels: Iterable[str],
                 prefect_api: str | None = None):
        chans = list(channels)
        self.queues = Cached(lambda: queue_stats(settings, chans))
        self.store = Cached(lambda: store_stats(store, chans))
        self.prefect = Cached(lambda: prefect_flow_runs(prefect_api), ttl=15) \
            if prefect_api else None

    def collect(self):  # type: ignore[no-untyped-def]
        yield from self._queues(self.queues.get() or {})
        yield from self._store(self.store.get() or {})
        if self.prefect is not None:
            runs = GaugeMetricFamily("clarion_prefect_flow_runs",
                                     "Prefect flow runs of Clarion's broadcast flow by state.",
                                     labels=["state"])
            for state, n in (self.prefect.get() or {}).items():
                runs.add_metric([state], n)
            yield runs

    @staticmethod
    def _queues(stats: dict[str, tuple[int, int]]):  # type: ignore[no-untyped-def]
        depth = GaugeMetricFamily("clarion_queue_depth",
                                  "Messages ready in a queue (on a .bulk queue, each carries a "
                                  "campaign's bundle of deliveries).", labels=["queue"])
        consumers = GaugeMetricFamily("clarion_queue_consumers", "Consumers on a queue.",
                                      labels=["queue"])
        for queue, (ready, n) in stats.items():
            depth.add_metric([queue], ready)
            consumers.add_metric([queue], n)
        yield depth
        yield consumers

    @staticmethod
    def _store(stats: dict[str, Any]):  # type: ignore[no-untyped-def]
        age = GaugeMetricFamily("clarion_backlog_age_seconds",
                                "Age of the oldest delivery still queued, per channel.",
                                labels=["channel"])
        for channel, seconds in stats.get("backlog_age", {}).items():
            age.add_metric([channel], seconds)
        yield age
        campaigns = stats.get("campaigns", {})
        yield GaugeMetricFamily("clarion_campaigns_running", "Campaigns not yet finished.",
                                value=campaigns.get("running", 0))
        finished = CounterMetricFamily("clarion_campaigns_finished",
                                       "Campaigns finished, by final state.", labels=["state"])
        for state in ("completed", "cancelled", "failed"):
            finished.add_metric([state], campaigns.get(state, 0))
        yield finished
        decisions = CounterMetricFamily(
            "clarion_policy_decisions", "Policy decisions on deliveries, by any process: send, "
            "or the reason it was skipped or deferred (opted_out, capped, quiet_hours, …).",
            labels=["decision"])
        for decision, n in sorted(stats.get("decisions", {}).items()):
            decisions.add_metric([decision], n)
        yield decisions


def register_collector(settings: Settings, store: Store, channels: Iterable[str]) -> None:
    import os
    REGISTRY.register(ClarionCollector(settings, store, channels,
                                       os.environ.get("PREFECT_API_URL")))
