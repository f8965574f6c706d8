"""``clarion up`` / ``status`` / ``down`` as a newcomer runs them: a Prefect server, the
deployment server, a worker and the API start in the background; ``campaign send`` uses that
Prefect server; ``status`` shows the campaign; ``down`` leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from clarion import campaigns

from .conftest import ROOT
from .scenarios import sms_notice


def _env() -> dict[str, str]:
    """The test's CLARION_* settings, and no Prefect server of the test session's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    return {**env, "PREFECT_LOGGING_LEVEL": "WARNING"}


def clarion(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clarion.cli.main", *args], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def _family(pids: list[int]) -> list[psutil.Process]:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            out += [p, *p.children(recursive=True)]
        except psutil.Error:
            pass
    return out


@pytest.fixture
def stack(clarion_env, sms_gateway, campus):  # type: ignore[no-untyped-def]
    """The platform as `clarion up` starts it (the SMS gateway and the campus first: the
    worker reads its channels when it starts)."""
    gateway, n = sms_gateway(), campus(40)
    started = clarion("up", "--workers", "1")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = json.loads((Path(clarion_env["CLARION_DATA_DIR"]) / "stack" / "state.json")
                           .read_text())
        yield state, started.stdout, gateway, n
    finally:
        clarion("down")


@pytest.mark.sqlite_only  # orchestration, not the database: once is enough
def test_up_send_status_down(stack, store, tmp_path):
    state, printed, gateway, n = stack
    assert [p["name"] for p in state["procs"]] == [
        "prefect-server", "deployment-server", "campaign-runner", "worker-0", "api"]
    ui = state["procs"][0]["url"]
    assert f"Prefect UI: {ui}" in " ".join(printed.split())
    assert httpx.get(f"{state['procs'][4]['url']}/healthz", timeout=5).status_code == 200
    request = tmp_path / "notice.json"
    request.write_text(json.dumps(sms_notice("stack")))
    sent = clarion("campaign", "send", "--request", str(request), "--wait", "--json")
    assert sent.returncode == 0, sent.stderr
    assert "temporary" not in sent.stderr  # the stack's Prefect server, not a temporary one
    runner = state["procs"][2]["pid"]  # the warm runner ran the flow, not the CLI's process
    assert f"the campaign runner (pid {runner}) runs the flow" in " ".join(sent.stderr.split())
    result = json.loads(sent.stdout.strip().splitlines()[-1])
    assert result["channels"]["sms"]["sent"] == n == gateway.stats()["received"]
    runs = httpx.post(f"{state['prefect_api']}/flow_runs/filter", json={}, timeout=10).json()
    flow_run_id = campaigns.get(store, result["campaign_id"])["flow_run_id"]
    assert [r["state_type"] for r in runs if r["id"] == flow_run_id] == ["COMPLETED"]

    shown = json.loads(clarion("status", "--json").stdout)
    assert all(p["running"] for p in shown["processes"])
    assert shown["queues"]["sms"]["consumers"] == 1
    assert shown["queues"]["campaign-runs"] == {"ready": 0, "consumers": 1}  # the runner
    assert shown["paused_accounts"] == {"worker-0": []}
    assert shown["campaigns"][0]["campaign_id"] == result["campaign_id"]
    assert shown["campaigns"][0]["status"] == "completed"

    family = _family([p["pid"] for p in state["procs"]])
    stopped = clarion("down")
    assert stopped.returncode == 0 and "stopped prefect-server" in stopped.stdout
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert "nothing to stop" in clarion("down").stdout
    assert not json.loads(clarion("status", "--json").stdout)["processes"]


def test_send_without_a_server_says_what_it_does(clarion_env, tmp_path):
    request = tmp_path / "bad.json"
    request.write_text(json.dumps({**sms_notice("none"), "priority": "panic"}))
    done = clarion("campaign", "send", "--request", str(request))
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "no Prefect server is running" in message and "temporary Prefect server" in message
