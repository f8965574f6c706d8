"""RabbitMQ's prometheus plugin, which dashboards/prometheus.yml scrapes on 127.0.0.1:15692, is
on where Clarion starts RabbitMQ (scripts/ensure-services.sh), and serves the metrics the
dashboards may use."""

from __future__ import annotations

import urllib.request

from .conftest import need, port_open
from .test_dashboards_static import RABBITMQ_METRICS


def test_rabbitmq_serves_its_prometheus_metrics_on_loopback(rabbitmq):
    need("RabbitMQ's prometheus plugin", port_open("127.0.0.1", 15692),
         "scripts/ensure-services.sh rabbitmq enables rabbitmq_prometheus")
    with urllib.request.urlopen("http://127.0.0.1:15692/metrics", timeout=10) as r:
        text = r.read().decode()
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                if line and not line.startswith("#")}
    assert {"rabbitmq_queue_messages_ready", "rabbitmq_connections"} <= exported
    assert RABBITMQ_METRICS & exported


def test_rabbitmq_management_api_answers_on_loopback(rabbitmq):
    need("RabbitMQ's management plugin", port_open("127.0.0.1", 15672),
         "scripts/ensure-services.sh rabbitmq enables rabbitmq_management")
    request = urllib.request.Request("http://127.0.0.1:15672/api/overview",
                                     headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200 and b"rabbitmq_version" in r.read()
