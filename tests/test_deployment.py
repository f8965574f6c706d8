"""Another system starts a campaign through Prefect's REST API; ``clarion serve`` runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import ROOT, wait_until
from .scenarios import all_final, campaign_id, sms_notice


@pytest.fixture
def served(prefect_api, settings, tmp_path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "clarion.cli.main", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _create_run(api: str, deployment: str, body: dict) -> dict:
    """As another system would: retry while the Prefect server answers 503 (busy)."""
    for _ in range(20):
        r = httpx.post(f"{api}/deployments/{deployment}/create_flow_run", json=body, timeout=10)
        if r.status_code != 503:
            assert r.status_code in (200, 201), r.text
            return r.json()
        time.sleep(0.5)
    raise AssertionError("the Prefect server stayed busy")


def _deployment_id(api: str) -> str | None:
    r = httpx.get(f"{api}/deployments/name/broadcast/broadcast", timeout=5)
    return r.json()["id"] if r.status_code == 200 else None


def test_campaign_started_through_the_deployment_rest_api(prefect_api, served, store, campus,
                                                          sms_gateway, workers):
    n = campus(150)
    gateway = sms_gateway()
    workers.start(channels="sms")
    wait_until(lambda: _deployment_id(prefect_api) is not None, timeout=60,
               message="the broadcast deployment to be served")
    deployment = _deployment_id(prefect_api)
    request = sms_notice("via-rest")
    body = {"parameters": {"request": request}, "idempotency_key": "via-rest"}
    first = _create_run(prefect_api, deployment, body)
    again = _create_run(prefect_api, deployment, body)
    assert again["id"] == first["id"]  # the idempotency key holds
    run_id = first["id"]

    def state() -> str:
        return httpx.get(f"{prefect_api}/flow_runs/{run_id}", timeout=5).json()["state"]["type"]
    wait_until(lambda: state() in ("COMPLETED", "FAILED", "CRASHED"), timeout=120,
               message="the flow run to finish")
    assert state() == "COMPLETED"
    assert all_final(store, campaign_id(request))
    stats = gateway.stats()
    assert stats["received"] == stats["distinct_ids"] == n


def test_the_release_flow_is_served_on_a_short_schedule_and_sends_what_is_due(
        prefect_api, served, store, campus, sms_gateway, workers):
    """``clarion serve`` serves release-deferred every minute (and digests hourly); a run
    of it publishes a delivery whose quiet hours are over."""
    from datetime import datetime, timedelta, timezone

    from clarion.store import deliveries
    campus(5)
    gateway = sms_gateway()
    workers.start(channels="sms")
    wait_until(lambda: httpx.get(f"{prefect_api}/deployments/name/release-deferred/"
                                 "release-deferred", timeout=5).status_code == 200,
               timeout=60, message="the release-deferred deployment to be served")
    deployment = httpx.get(f"{prefect_api}/deployments/name/release-deferred/release-deferred",
                           timeout=5).json()
    [schedule] = deployment["schedules"]
    assert schedule["schedule"]["interval"] == 60 and schedule["active"]
    digests = httpx.get(f"{prefect_api}/deployments/name/digests/digests", timeout=5).json()
    assert digests["schedules"][0]["schedule"]["cron"] == "5 * * * *"
    due = datetime.now(timezone.utc) - timedelta(minutes=1)
    deliveries.insert_new(store, [{
        "id": "d_waited_for_morning", "campaign_id": None, "message_id": "m_overnight",
        "recipient_id": "S000001", "channel": "sms", "address": "+8613900000001",
        "content": {"text": "good morning"}, "category": "general", "priority": "normal",
        "source": "test", "status": "deferred", "code": "quiet_hours",
        "reason": "quiet hours", "release_at": due}], "test")
    _create_run(prefect_api, deployment["id"], {"parameters": {}})
    wait_until(lambda: gateway.stats()["received"] == 1, timeout=60,
               message="the deferred SMS sent by the served release flow")
    assert [r["text"] for r in gateway.records()] == ["good morning"]


CALLER = """
import json, sys
from prefect.deployments import run_deployment
run = run_deployment("broadcast/broadcast", parameters={"request": json.loads(sys.argv[1])},
                     timeout=180)
print(json.dumps(run.state.result()))
"""


@pytest.mark.sqlite_only  # orchestration, not the database: once is enough
def test_a_calling_system_reads_the_result_of_the_run_it_started(
        prefect_api, served, store, campus, sms_gateway, workers, tmp_path):
    """``run_deployment(...)`` then ``state.result()`` from another process that shares
    nothing with the flow but the Prefect API (its own PREFECT_HOME, no CLARION_*)."""
    n = campus(30)
    sms_gateway()
    workers.start(channels="sms")
    wait_until(lambda: _deployment_id(prefect_api) is not None, timeout=60,
               message="the broadcast deployment to be served")
    request = sms_notice("read-back")
    env = {"PATH": os.environ["PATH"], "PREFECT_API_URL": prefect_api, "DO_NOT_TRACK": "1",
           "PREFECT_HOME": str(tmp_path / "caller-home"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, "-c", CALLER, json.dumps(request)], env=env,
                          capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["campaign_id"] == campaign_id(request) and result["status"] == "completed"
    assert result["channels"]["sms"]["sent"] == result["channels"]["sms"]["total"] == n
    # and through the REST API alone: the flow run's result artifact
    body = {"artifacts": {"flow_run_id": {"any_": [result["flow_run_id"]]},
                          "type": {"any_": ["result"]}}}
    [artifact] = httpx.post(f"{prefect_api}/artifacts/filter", json=body, timeout=10).json()
    assert artifact["data"] == result
