"""POST /v1/campaigns through a real served deployment: the API creates a flow run of
``broadcast/broadcast`` on the session's Prefect server, ``clarion serve`` runs it, a
``clarion worker`` sends every SMS to the capture gateway; a repeat creates nothing new."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import httpx
import pytest

from ..conftest import ROOT, wait_until
from ..scenarios import all_final, sms_notice
from .conftest import auth


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
        proc.wait()
    log.close()


def _deployment_id(api: str) -> str | None:
    r = httpx.get(f"{api}/deployments/name/broadcast/broadcast", timeout=5)
    return r.json()["id"] if r.status_code == 200 else None


def _flow_runs(api: str, deployment_id: str) -> list[dict]:
    body = {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 200}
    r = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _state(api: str, run_id: str) -> str:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]["type"]


def test_post_campaign_runs_the_served_deployment_once(prefect_api, served, client, make_key,
                                                       store, campus, sms_gateway, workers,
                                                       tmp_path):
    n = campus(120)
    gateway = sms_gateway()
    workers.start(channels="sms")
    wait_until(lambda: _deployment_id(prefect_api) is not None, timeout=90,
               message="the broadcast deployment to be served")
    deployment = _deployment_id(prefect_api)
    before = {r["id"] for r in _flow_runs(prefect_api, deployment)}

    request = sms_notice("api-deployment")
    del request["idempotency_key"]  # the header gives it, scoped to the API key
    headers = {**auth(make_key("campus-office")), "Idempotency-Key": "api-deployment-1"}
    first = client.post("/v1/campaigns", json=request, headers=headers)
    assert first.status_code == 202, first.text
    answer = first.json()
    assert answer["campaign_id"].startswith("c_") and answer["flow_run_id"], answer
    run_id = answer["flow_run_id"]

    wait_until(lambda: _state(prefect_api, run_id) in ("COMPLETED", "FAILED", "CRASHED",
                                                       "CANCELLED"),
               timeout=180, message="the flow run to finish")
    assert _state(prefect_api, run_id) == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
    assert all_final(store, answer["campaign_id"])
    info = client.get(f"/v1/campaigns/{answer['campaign_id']}", headers=headers).json()
    assert info["flow_run_id"] == run_id
    assert info["channels"]["sms"]["sent"] == info["channels"]["sms"]["total"] == n, info
    stats = gateway.stats()
    assert stats["received"] == stats["distinct_ids"] == n

    again = client.post("/v1/campaigns", json=request, headers=headers)
    assert again.status_code == 202 and again.json() == answer, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    new_runs = [r for r in _flow_runs(prefect_api, deployment) if r["id"] not in before]
    assert [r["id"] for r in new_runs] == [run_id]
    assert gateway.stats()["received"] == n  # nothing sent twice
