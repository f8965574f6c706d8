#!/usr/bin/env python
"""First delivery after ``clarion up``: how long from a staff member's CLI call (or another
system's API call) to the first SMS at the gateway, with the platform already running.

One fresh data dir under /tmp: the capture SMS gateway (its own process), a sample campus,
a category ``bench`` without quiet hours, then ``clarion up`` (Prefect server, deployment
server, 2 workers, API) exactly as documented.  Then, alternating (ABC CBA):

* ``cli``: ``clarion campaign send --request FILE`` (the CLI checks the request and hands
  it to the stack's warm campaign runner, which runs the flow on the stack's Prefect server);
* ``cli-here``: the same with ``--no-runner`` (the flow runs in the CLI's own process, which
  imports Prefect first: how every CLI call ran before the runner);
* ``api``: ``POST /v1/campaigns`` to the stack's API (a flow run of the served deployment,
  started by the deployment server in a new process).

Each notice has its own key and text; the clock starts at the call.  ``other_cpu_s`` is the
machine's busy CPU time during the run less that of the processes of this benchmark (the
stack, the gateway, the caller): what the rest of the shared machine took.

    python bench/first_delivery.py --blocks 2 --json-out bench/results/first-delivery.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
LABELS = ("cli", "cli-here", "api")
BUSY = ("user", "system", "nice", "irq", "softirq", "steal")


def clarion(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = subprocess.run([PY, "-m", "clarion.cli.main", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise RuntimeError(f"clarion {' '.join(args)}: {done.stdout}\n{done.stderr}")
    return done.stdout


def start_gateway(root: Path) -> tuple[subprocess.Popen, str]:
    out = open(root / "gateway.log", "w")
    proc = subprocess.Popen([PY, "-u", "-m", "clarion.demo.capture", "sms", "--port", "0",
                             "--out", str(root / "sms.jsonl")], stdout=out,
                            stderr=subprocess.STDOUT, cwd=REPO)
    for _ in range(300):
        text = (root / "gateway.log").read_text()
        if text.startswith("ready "):
            return proc, text.split()[1]
        time.sleep(0.1)
    raise RuntimeError("the SMS gateway did not start")


def first_at(path: Path, marker: str, timeout: float = 60) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in path.read_text().splitlines() if path.exists() else []:
            record = json.loads(line)
            if marker in record["text"]:
                return float(record["t"])
        time.sleep(0.02)
    return None


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def notice(key: str) -> dict[str, Any]:
    return {"name": f"bench {key}", "category": "bench", "channels": ["sms"],
            "audience": {"roles": ["student"]}, "idempotency_key": key,
            "content": {"default": {"title": "Bench", "body": f"{key}: {{{{ recipient.name }}}}"}}}


def send_cli(env: dict[str, str], root: Path, key: str, here: bool = False) -> float:
    path = root / f"{key}.json"
    path.write_text(json.dumps(notice(key)))
    started = time.time()
    subprocess.Popen([PY, "-m", "clarion.cli.main", "campaign", "send", "--request", str(path),
                      *(["--no-runner"] if here else [])],
                     env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return started


def send_api(api: str, token: str, key: str) -> float:
    body = json.dumps(notice(key)).encode()
    request = urllib.request.Request(f"{api}/v1/campaigns", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.time()
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 202, r.status
    return started


def one_run(env: dict[str, str], root: Path, state: dict, token: str, label: str,
            i: int) -> dict[str, Any]:
    key = f"{label}-{i}-{int(time.time() * 1000)}"
    ours = [p["pid"] for p in state["procs"]]
    cpu0, sys0, me0 = cpu_of(ours), psutil.cpu_times(), cpu_of([os.getpid()])
    started = (send_cli(env, root, key) if label == "cli" else
               send_cli(env, root, key, here=True) if label == "cli-here" else
               send_api(state["api"], token, key))
    first = first_at(root / "sms.jsonl", f"{key}:")
    time.sleep(1.5)  # let the run finish before the next one
    sys1 = psutil.cpu_times()
    busy = sum(getattr(sys1, f) - getattr(sys0, f) for f in BUSY if hasattr(sys0, f))
    ours_cpu = cpu_of(ours) - cpu0 + cpu_of([os.getpid()]) - me0
    return {"label": label, "first_delivery_s": round(first - started, 3) if first else None,
            "other_cpu_s": round(busy - ours_cpu, 2), "load1": os.getloadavg()[0]}


def setup(root: Path, people: int) -> tuple[dict[str, str], dict, str]:
    gateway, url = start_gateway(root)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(CLARION_DATA_DIR=str(root / "var"), CLARION_SMS_GATEWAY_URL=url,
               CLARION_BROKER_NAMESPACE=f"fd{os.getpid()}", DO_NOT_TRACK="1",
               PREFECT_LOGGING_LEVEL="WARNING")
    clarion(env, "directory", "sample", "--people", str(people), str(root / "campus.csv"))
    clarion(env, "directory", "import", str(root / "campus.csv"))
    clarion(env, "category", "set", "bench", "--quiet-hours", "none")
    token = json.loads(clarion(env, "apikey", "create", "--system", "bench", "--categories",
                               "bench", "--channels", "sms", "--audiences", "*",
                               "--rate", "100", "--json"))["key"]
    t0 = time.time()
    clarion(env, "up")
    raw = json.loads((root / "var" / "stack" / "state.json").read_text())
    raw["up_s"] = round(time.time() - t0, 1)
    raw["api"] = next(p["url"] for p in raw["procs"] if p["name"] == "api")
    raw["procs"].append({"name": "sms-gateway", "pid": gateway.pid})
    return env, raw, token


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2,
                        help="ABCCBA blocks (each path twice in each)")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clarion-first-"))
    env, state, token = setup(root, args.people)
    runs = []
    try:
        for i, pair in enumerate([LABELS, LABELS[::-1]] * args.blocks):
            for label in pair:
                runs.append(one_run(env, root, state, token, label, i))
                print(json.dumps(runs[-1]), flush=True)
    finally:
        clarion(env, "down", check=False)
        next(psutil.Process(p["pid"]) for p in state["procs"]
             if p["name"] == "sms-gateway").terminate()
    summary = {label: {"median_first_delivery_s": statistics.median(
        r["first_delivery_s"] for r in runs if r["label"] == label and r["first_delivery_s"]),
        "median_other_cpu_s": statistics.median(
        r["other_cpu_s"] for r in runs if r["label"] == label)} for label in LABELS}
    result = {"up_s": state["up_s"], "people": args.people, "summary": summary, "runs": runs}
    print(json.dumps(summary, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
