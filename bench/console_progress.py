#!/usr/bin/env python
"""Does the Overview's live progress slow a running campaign?  Side by side, ABBA:
``bench/broadcast.py`` runs one campaign (30,000 × SMS + inbox by default, 2 workers) alone
(A) or with the console watching it (B): the app served by uvicorn on the run's own
database, with W browsers' worth of server-sent-event streams open on /console/progress
(20 by default; one database read per tick serves them all, 1 s apart as in production).

    python bench/console_progress.py                    # 2 pairs: A B B A
    python bench/console_progress.py --pairs 2 --watchers 50 --recipients 20000

The summary gives each side's median deliveries/s (from the CLI call), the ratio B/A of the
medians, the pairwise ratios, and the other processes' CPU seconds during each run (the
machine is shared) as broadcast.py measures them.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def serve_watchers(db_url: str, watchers: int) -> None:
    """The sidecar: the app on ``db_url`` and ``watchers`` SSE streams, until SIGTERM."""
    import httpx

    sys.path.insert(0, str(REPO))
    from tests.api.conftest import LiveServer  # uvicorn serving the app in a thread
    from clarion.api import create_app
    from clarion.console.accounts import create_staff, staff
    from clarion.console.sessions import COOKIE, open_session
    from clarion.console.settings import ConsoleSettings
    from clarion.security import ApiSettings
    from clarion.settings import load_settings
    from clarion.store.db import store_for
    settings = load_settings(database_url=db_url)
    store = store_for(db_url)
    member = staff(store, create_staff(store, f"watch{os.getpid()}@campus.example.edu",
                                       "x" * 12, "viewer", "bench"))
    token = open_session(store, ConsoleSettings(), member).token  # type: ignore[arg-type]
    app = create_app(settings, ApiSettings())
    server = LiveServer(app)

    def server_reads() -> int:
        return app.state.console.progress.reads
    events = [0] * watchers
    stop = threading.Event()

    def watch(i: int) -> None:
        with httpx.Client(base_url=server.url, cookies={COOKIE: token}, timeout=None) as c:
            with c.stream("GET", "/console/progress") as r:
                for line in r.iter_lines():
                    events[i] += line.startswith("event:")
                    if stop.is_set():
                        return
    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(watchers)]
    for t in threads:
        t.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"events": sum(events), "watchers": watchers, "reads": server_reads(),
                      "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}), flush=True)


def sidecar_for(pid: int, watchers: int, log: Path) -> subprocess.Popen | None:
    """Wait for broadcast.py (``pid``) to make its run's database, then start watching it."""
    deadline = time.time() + 300
    while time.time() < deadline:
        found = glob.glob(f"/tmp/clarion-bench-{pid}-*/clarion.db")
        if found:
            url = f"sqlite:///{found[0]}"
            return subprocess.Popen([PY, __file__, "--serve-watchers", url, "--watchers",
                                     str(watchers)], stdout=open(log, "w"),
                                    stderr=subprocess.STDOUT, cwd=REPO)
        time.sleep(0.2)
    return None


def one_run(side: str, args: argparse.Namespace, out_dir: Path, n: int) -> dict[str, Any]:
    out = out_dir / f"run-{n}-{side}.json"
    cmd = [PY, "bench/broadcast.py", "--recipients", str(args.recipients), "--repeat", "1",
           "--metrics", "off", "--label", f"progress-{side}", "--json-out", str(out)]
    bench = subprocess.Popen(cmd, cwd=REPO, stdout=open(out_dir / f"run-{n}-{side}.log", "w"),
                             stderr=subprocess.STDOUT)
    sidecar = sidecar_for(bench.pid, args.watchers, out_dir / f"sidecar-{n}.log") \
        if side == "B" else None
    bench.wait()
    if sidecar is not None:
        sidecar.send_signal(signal.SIGTERM)
        sidecar.wait(30)
    run = json.loads(out.read_text())["runs"][0]
    watched = (out_dir / f"sidecar-{n}.log").read_text() if side == "B" else ""
    return {"side": side, "rate": run["rate_from_cli"], "e2e_s": run["e2e_s"],
            "other_cpu_s": run.get("other_cpu_s"), "all_final": run["all_final"],
            "sidecar": watched.strip().splitlines()[-1] if watched.strip() else None}


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=2, help="pairs of runs (AB then BA, …)")
    p.add_argument("--watchers", type=int, default=20)
    p.add_argument("--recipients", type=int, default=30000)
    p.add_argument("--serve-watchers", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    if args.serve_watchers:
        return serve_watchers(args.serve_watchers, args.watchers)
    out_dir = Path(tempfile.mkdtemp(prefix="clarion-bench-progress-"))
    order = [s for i in range(args.pairs) for s in (("A", "B") if i % 2 == 0 else ("B", "A"))]
    runs = []
    for n, side in enumerate(order):
        runs.append(one_run(side, args, out_dir, n))
        print(json.dumps(runs[-1]), flush=True)
    rates = {s: [r["rate"] for r in runs if r["side"] == s] for s in "AB"}
    summary = {"median_rate_A": statistics.median(rates["A"]),
               "median_rate_B": statistics.median(rates["B"]),
               "ratio_B_over_A": round(statistics.median(rates["B"]) /
                                       statistics.median(rates["A"]), 3),
               "pairwise": [round(b / a, 3) for a, b in zip(rates["A"], rates["B"])],
               "watchers": args.watchers, "recipients": args.recipients, "runs": runs}
    print(json.dumps(summary, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
