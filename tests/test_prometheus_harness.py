"""A real Prometheus scrapes a process that exports Clarion's metrics; the dashboards' panel
queries then show data exactly for the metrics that process emitted (clarion.ops.panels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clarion.ops.panels import PanelQueryError, evaluate_panels, panel_queries
from tests.prometheus_server import PrometheusServer, prometheus_binary

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"

# A stand-in worker: Clarion's own metric objects, served on loopback, moving while it runs.
# It emits everything a worker and the queue monitor would for the email channel, and no API
# metrics, so the API panels must stay empty.
EMITTER = textwrap.dedent("""
    import sys, time
    from prometheus_client import start_http_server
    from prometheus_client import REGISTRY
    from clarion import metrics as m
    from clarion.ops.collectors import ClarionCollector

    class StaticState(ClarionCollector):  # what the scrape-time collector reads, fixed
        def __init__(self):
            pass

        def collect(self):
            yield from self._queues({"clarion.q.email": (40, 1)})
            yield from self._store({"backlog_age": {"email": 3.5},
                                    "campaigns": {"running": 1, "completed": 1}})

    REGISTRY.register(StaticState())
    server, _thread = start_http_server(0, addr="127.0.0.1")
    m.ACCOUNT_STOPPED.labels("email").set(0)
    print(server.server_port, flush=True)
    while True:
        m.DELIVERIES.labels("email", "sent").inc(5)
        m.DELIVERIES.labels("email", "failed").inc()
        m.DELIVERIES.labels("email", "retried").inc()
        m.DELIVERY_LATENCY.labels("email").observe(0.4)
        m.PROVIDER_REQUEST.labels("email").observe(0.08)
        m.PROVIDER_ERRORS.labels("email", "permanent", "550").inc()
        time.sleep(0.2)
""")

API_PANELS = {"clarion-overview/API requests by status",
              "clarion-overview/API latency p95 by route"}
# Honest zeros (`or on() vector(0)`): counters of things that did not happen show 0, not "no data".
ZERO_FALLBACK_PANELS = {"Deliveries failed (range)", "Dead letters (range)",
                        "Provider errors by code", "Retries and dead letters", "Skips by reason"}


@pytest.fixture(scope="module")
def emitter():
    proc = subprocess.Popen([sys.executable, "-c", EMITTER], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def prometheus(emitter):
    if prometheus_binary() is None:
        message = "prometheus is missing: run scripts/ensure-prometheus.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with PrometheusServer({"clarion-workers": [emitter]},
                          rule_files=[DASHBOARDS / "alerts.yml"]) as prom:
        prom.wait_for_series("clarion_delivery_latency_seconds_bucket")
        prom.wait_for("rate(clarion_deliveries_total[1m]) > 0")
        yield prom


def test_overview_has_data_except_for_the_api_panels(prometheus):
    result = evaluate_panels(prometheus.url, DASHBOARDS, only=["clarion-overview"])

    assert len(result) == len({t for t, _ in panel_queries(load("clarion-overview.json"))})
    assert {key for key, has_data in result.items() if not has_data} == API_PANELS


def test_channel_board_has_data_for_the_emitted_channel(prometheus):
    result = evaluate_panels(prometheus.url, DASHBOARDS, {"channel": "email"},
                             only=["clarion-channel"])

    assert result and all(result.values()), [k for k, v in result.items() if not v]


def test_channel_board_is_empty_for_a_silent_channel_but_for_honest_zeros(prometheus):
    result = evaluate_panels(prometheus.url, DASHBOARDS, {"channel": "sms"},
                             only=["clarion-channel"])

    with_data = {key.split("/", 1)[1] for key, has_data in result.items() if has_data}
    assert with_data == ZERO_FALLBACK_PANELS


def test_the_alert_rules_load_into_prometheus(prometheus):
    groups = prometheus.api("/api/v1/rules")["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert "ClarionProviderCircuitOpen" in names and len(names) == 6
    assert all(rule["health"] != "err" for group in groups for rule in group["rules"])


def test_a_query_prometheus_rejects_is_an_error_not_an_empty_panel(prometheus, tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"uid": "bad", "panels": [
        {"title": "broken", "targets": [{"expr": "sum by (channel (clarion_queue_depth)"}]}]}))
    with pytest.raises(PanelQueryError, match="broken|parse"):
        evaluate_panels(prometheus.url, tmp_path)


def test_panel_queries_substitute_variables():
    dashboard = {"panels": [
        {"title": "row", "type": "row", "panels": [
            {"title": "inner", "targets": [{"expr": 'rate(x{c="$channel"}[$__rate_interval])'}]}]},
        {"title": "braces", "targets": [{"expr": 'y{c="${channel}"}[$__range]'},
                                        {"expr": "hidden", "hide": True}]},
    ]}
    assert panel_queries(dashboard, {"channel": "sms"}) == [
        ("inner", 'rate(x{c="sms"}[1m])'), ("braces", 'y{c="sms"}[1h]')]
    with pytest.raises(PanelQueryError, match=r"\$channel"):
        panel_queries(dashboard, {})


def load(name: str) -> dict:
    return json.loads((DASHBOARDS / name).read_text())
