"""The Quickstart's demo as a newcomer runs it: one summary table, and afterwards the Prefect
UI (still running) shows the campaign's flow run and its summary artifact."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx

from .conftest import ROOT


def test_the_demo_prints_one_table_and_leaves_the_run_to_look_at(rabbitmq, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLARION_") and k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env["PYTHONPATH"] = str(ROOT)
    clarion = [sys.executable, "-m", "clarion.cli.main"]
    demo = subprocess.run([*clarion, "demo", "--people", "30", "--workers", "1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=400)
    root = tmp_path / "var" / "demo"
    try:
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert demo.stdout.count("┃ channel ") == 1, demo.stdout
        assert "demo OK" in demo.stdout
        link = re.search(r"(http://127\.0\.0\.1:\d+)/runs/flow-run/([0-9a-f-]{36})",
                         demo.stdout)
        assert link, demo.stdout
        ui, run_id = link.groups()
        run = httpx.get(f"{ui}/api/flow_runs/{run_id}", timeout=10).json()
        assert run["state"]["type"] == "COMPLETED"
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}, "type": {"any_": ["markdown"]}}}
        [artifact] = httpx.post(f"{ui}/api/artifacts/filter", json=body, timeout=10).json()
        assert "**completed**" in artifact["data"]
        assert f"CLARION_DATA_DIR={root} .venv/bin/clarion down" in " ".join(demo.stdout.split())
    finally:
        down = subprocess.run([*clarion, "down"], cwd=tmp_path, capture_output=True, text=True,
                              env={**env, "CLARION_DATA_DIR": str(root)}, timeout=120)
    assert "prefect-server" in down.stdout and "sms-gateway" in down.stdout
    assert not json.loads(subprocess.run([*clarion, "status", "--json"], cwd=tmp_path, env={
        **env, "CLARION_DATA_DIR": str(root)}, capture_output=True, text=True).stdout)["processes"]
