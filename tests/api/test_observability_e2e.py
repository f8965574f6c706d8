"""A real Prometheus scrapes a worker and the API during a real campaign; every panel of every
dashboard must then show data (a panel without data fails the test, by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from clarion.directory import import_csv
from clarion.ops.panels import evaluate_panels
from tests.conftest import free_port, run_broadcast, wait_until
from tests.prometheus_server import PrometheusServer, prometheus_binary

from .conftest import auth

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow]


def _scraped(prom: PrometheusServer, job: str) -> bool:
    return any(float(s["value"][1]) == 1 for s in prom.query(f'up{{job="{job}"}}'))


def test_every_panel_has_data_after_a_real_campaign(prefect_api, store, campus, sms_gateway,
                                                    smtp_capture, workers, live_api, make_key,
                                                    tmp_path: Path):
    if prometheus_binary() is None:
        message = "prometheus is missing: run scripts/ensure-prometheus.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    campus(300)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,roles,department,grade,locale,email,phone,wecom_userid\n"
                   "X000001,Wrong Number,student,Physics,2024,en,x@campus.example.edu,+999000111,x\n")
    import_csv(store, bad)
    sms_gateway(fail_rate=0.1, invalid_prefix="+999")
    worker_port = free_port()
    workers.start(extra_env={"CLARION_METRICS_PORT": str(worker_port)})
    api_target = live_api.url.removeprefix("http://")
    targets = {"clarion-workers": [f"127.0.0.1:{worker_port}"], "clarion-api": [api_target]}
    with PrometheusServer(targets) as prom:
        wait_until(lambda: _scraped(prom, "clarion-workers") and _scraped(prom, "clarion-api"),
                   timeout=60, message="Prometheus to scrape the worker and the API")
        key = make_key()
        with httpx.Client(base_url=live_api.url, headers=auth(key), timeout=10) as api:
            for i in range(5):
                r = api.post("/v1/messages", json={
                    "category": "library", "channels": ["sms"], "to": [{"id": f"S{i + 1:06d}"}],
                    "content": {"default": {"title": "Book due", "body": "Your book is due."}}})
                assert r.status_code == 202, r.text
            api.get("/v1/messages/unknown")
        request = {"name": "Lab safety drill", "category": "campus", "priority": "normal",
                   "audience": {"everyone": True}, "channels": ["sms", "email", "inbox"],
                   "content": {"default": {"title": "Drill", "body": "Drill at 10:00, {{ recipient.name }}."}}}
        result = run_broadcast(request)
        assert all(c["open"] == 0 for c in result["channels"].values()), result
        wait_until(lambda: bool(prom.query("clarion_campaigns_finished_total > 0")), timeout=30,
                   message="the finished campaign in Prometheus")
        time.sleep(3)  # a few scrapes after the end, so rates cover the campaign
        panels = evaluate_panels(prom.url, ROOT / "dashboards", {"channel": "sms"})
    empty = sorted(name for name, has_data in panels.items() if not has_data)
    assert len(panels) > 20
    assert not empty, f"panels without data: {empty}"
