"""Prometheus alert rules and scrape config, checked and unit-tested by the real promtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_dashboards_static import RABBITMQ_METRICS, clarion_metric_names, metric_names_in

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "dashboards" / "alerts.yml"
ALERT_TESTS = ROOT / "dashboards" / "tests" / "alerts_test.yml"
SCRAPE_CONFIG = ROOT / "dashboards" / "prometheus.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is missing: run scripts/ensure-prometheus.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_alert_rules_are_valid(promtool):
    result = run(promtool, "check", "rules", str(ALERTS))
    assert f"{len(alert_rules())} rules found" in result.stdout


def test_alert_rule_unit_tests_pass(promtool):
    run(promtool, "test", "rules", str(ALERT_TESTS))


def test_scrape_config_is_valid(promtool):
    run(promtool, "check", "config", str(SCRAPE_CONFIG))


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in alert_rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{rule['alert']}: no quiet case"


def test_alerts_use_only_exported_metrics():
    known = clarion_metric_names() | RABBITMQ_METRICS
    for rule in alert_rules():
        used = metric_names_in(rule["expr"])
        assert used and used <= known, f"{rule['alert']}: unknown metric(s) {used - known}"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_scrape_config_has_the_documented_targets():
    jobs = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
            for job in yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"]}
    assert jobs == {
        "clarion-api": ["127.0.0.1:8000"],
        "clarion-workers": [f"127.0.0.1:{port}" for port in range(9101, 9105)],
        "rabbitmq": ["127.0.0.1:15692"],
    }
