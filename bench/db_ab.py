#!/usr/bin/env python
"""SQLite against PostgreSQL side by side: ``bench/broadcast.py`` runs alternate ABBA between
the default SQLite database and ``--db URL --pg-fresh-schema``; the summary gives each side's
medians, the ratio of the medians, the pairwise ratios, CPU per delivery per process and the
CPU used outside the runs (``other_cpu_s``: check it before trusting a pair).

    python bench/db_ab.py --scenario emergency --pairs 2
    python bench/db_ab.py --scenario notice --pairs 2 -- --metrics off   # more broadcast.py args
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_cpu_s() -> float:
    """CPU seconds used so far by PostgreSQL's processes, with the backends that exited (the
    postmaster's reaped children); other users of the server count too, so read it beside
    ``other_cpu_s``."""
    import psutil
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        try:
            if (proc.info["name"] or "").startswith("postgres"):
                cpu = proc.cpu_times()
                total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
        except psutil.Error:
            pass
    return total


def one_run(scenario: str, db: str | None, extra: list[str]) -> dict:
    out = Path(tempfile.mkstemp(prefix="db-ab-", suffix=".json")[1])
    before = postgres_cpu_s()
    args = [sys.executable, str(HERE / "broadcast.py"), "--scenario", scenario,
            "--json-out", str(out), *extra]
    if db:
        args += ["--db", db, "--pg-fresh-schema"]
    for attempt in (1, 2, 3):  # a run broken from outside (a database restart) is rerun
        if subprocess.run(args, stdout=subprocess.DEVNULL).returncode == 0:
            break
        print(f"run failed (attempt {attempt}); running it again", flush=True)
    else:
        raise RuntimeError(f"three runs failed: {args}")
    run = json.loads(out.read_text())["runs"][0]
    run["postgres_cpu_s"] = round(postgres_cpu_s() - before, 1)
    run["cpu_s"]["postgres"] = run["postgres_cpu_s"] if db else 0.0
    out.unlink()
    return run


def per_delivery_ms(run: dict) -> dict[str, float]:
    n = run["expected"]
    return {p: round(1000 * s / n, 4) for p, s in run["cpu_s"].items()}


def brief(run: dict) -> dict:
    keys = ("e2e_s", "rate_from_cli", "rate_from_publish", "t_first_gateway_s", "all_final",
            "duplicates", "other_cpu_s", "postgres_cpu_s", "cpu_ms_per_delivery",
            "peak_rss_mb", "cpu_s")
    return {k: run.get(k) for k in keys} | {"cpu_ms_per_delivery_per_process":
                                           per_delivery_ms(run)}


def summary(runs: dict[str, list[dict]]) -> dict:
    med = {side: {k: statistics.median(r[k] for r in rs)
                  for k in ("e2e_s", "rate_from_cli", "rate_from_publish")}
           for side, rs in runs.items()}
    pairs = [round(p["rate_from_cli"] / s["rate_from_cli"], 3)
             for p, s in zip(runs["postgresql"], runs["sqlite"])]
    return {"medians": med, "pairwise_pg_over_sqlite": pairs,
            "ratio_of_medians_pg_over_sqlite": round(
                med["postgresql"]["rate_from_cli"] / med["sqlite"]["rate_from_cli"], 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=("notice", "emergency"), default="emergency")
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--db", default=PG)
    p.add_argument("--json-out", default=None)
    p.add_argument("extra", nargs="*", help="after --: more broadcast.py arguments")
    args = p.parse_args()
    runs: dict[str, list[dict]] = {"sqlite": [], "postgresql": []}
    for i in range(args.pairs):  # ABBA
        order = ("sqlite", "postgresql") if i % 2 == 0 else ("postgresql", "sqlite")
        for side in order:
            run = one_run(args.scenario, args.db if side == "postgresql" else None, args.extra)
            runs[side].append(brief(run))
            print(side, json.dumps(runs[side][-1]), flush=True)
    result = {"scenario": args.scenario, "argv": sys.argv[1:], "runs": runs,
              "summary": summary(runs)}
    print(json.dumps(result["summary"], indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
