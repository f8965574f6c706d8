"""Prometheus metrics of every Clarion process.

Labels stay bounded: channel, provider, outcome, reason, error class and code, queue, route.
No campaign, recipient or address ever becomes a label.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

DELIVERIES = Counter(
    "clarion_deliveries", "Deliveries by channel and outcome "
    "(sent, failed, skipped, deferred, retried, dead_lettered, stopped).",
    ["channel", "outcome"])
SKIPS = Counter("clarion_delivery_skips", "Skipped deliveries by reason.", ["channel", "reason"])
DELIVERY_LATENCY = Histogram(
    "clarion_delivery_latency_seconds", "From enqueue to a final outcome.",
    ["channel"], buckets=LATENCY_BUCKETS)
PROVIDER_REQUEST = Histogram(
    "clarion_provider_request_seconds", "Duration of one provider call (one batch).",
    ["provider"], buckets=REQUEST_BUCKETS)
PROVIDER_ERRORS = Counter(
    "clarion_provider_errors", "Provider errors by class (retryable, permanent, stopped) and code.",
    ["provider", "error_class", "code"])
ACCOUNT_STOPPED = Gauge(
    "clarion_account_stopped", "1 while a channel account is paused (circuit open).", ["channel"])
IN_FLIGHT = Gauge("clarion_worker_in_flight", "Deliveries a worker holds right now.")
# clarion_queue_depth, clarion_queue_consumers, clarion_backlog_age_seconds,
# clarion_campaigns_running, clarion_campaigns_finished_total, clarion_prefect_flow_runs and
# clarion_policy_decisions_total
# are read at scrape time by the collectors in clarion.ops.collectors.
API_REQUESTS = Counter(
    "clarion_api_requests", "API requests by route template, method and status.",
    ["route", "method", "status"])
API_LATENCY = Histogram(
    "clarion_api_request_seconds", "API request duration by route template.", ["route"],
    buckets=REQUEST_BUCKETS)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose this process's metrics on loopback (never 0.0.0.0 by default)."""
    start_http_server(port, addr=host)
