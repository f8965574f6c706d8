#!/usr/bin/env python
"""The store's hot path alone: N deliveries inserted in chunks, claimed and recorded in
batches, through the backend of a database URL; wall time, this process's CPU and (on
PostgreSQL) the CPU of PostgreSQL's processes for each step.  No broker, no workers: what
each backend costs per row, to compare designs of ``store/sqlite`` and ``store/postgres``.

    python bench/store_ops.py sqlite:////tmp/store-ops.db
    python bench/store_ops.py postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from clarion.store.db import Store
from clarion.store.protocol import Outcome


def postgres_cpu_s() -> float:
    import psutil
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        try:
            if (proc.info["name"] or "").startswith("postgres"):
                c = proc.cpu_times()
                total += c.user + c.system + c.children_user + c.children_system
        except psutil.Error:
            pass
    return total


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rows_of(n: int) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    return [{"id": f"{tag}-{i}", "campaign_id": None, "message_id": None,
             "recipient_id": f"r{i}", "channel": "sms", "address": f"+86138{i:08d}",
             "content": {"text": "Fire drill at 10:00, leave by the stairs"},
             "category": "emergency", "priority": "emergency", "source": "bench",
             "status": "queued", "code": None, "reason": None, "content_hash": "h"}
            for i in range(n)]


def timed(step: Callable[[], None]) -> dict[str, float]:
    c0, p0, w0 = own_cpu_s(), postgres_cpu_s(), time.perf_counter()
    step()
    return {"wall_s": round(time.perf_counter() - w0, 2), "client_cpu_s": round(own_cpu_s() - c0, 2),
            "postgres_cpu_s": round(postgres_cpu_s() - p0, 2)}


def run(url: str, n: int, chunk: int, batch: int) -> dict[str, Any]:
    store = Store(url)
    rows = rows_of(n)
    ids = [r["id"] for r in rows]
    parts = [ids[k:k + batch] for k in range(0, n, batch)]
    out = {"insert": timed(lambda: [store.run(store.insert_deliveries(rows[k:k + chunk], "b"))
                                    for k in range(0, n, chunk)]),
           "claim": timed(lambda: [store.run(store.claim(p, [], "w")) for p in parts]),
           "record": timed(lambda: [store.run(store.record_results(
               [Outcome(i, "sent", 1, duration_ms=1.0) for i in p], "w")) for p in parts])}
    out["us_per_delivery"] = round(1e6 * sum(s["client_cpu_s"] + s["postgres_cpu_s"]
                                             for s in out.values()) / n, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("-n", type=int, default=60_000)
    p.add_argument("--chunk", type=int, default=2_000)
    p.add_argument("--batch", type=int, default=1_000)
    args = p.parse_args()
    if not args.url.startswith("postgresql"):
        print(json.dumps(run(args.url, args.n, args.chunk, args.batch)))
        return
    schema = "store_ops_" + uuid.uuid4().hex[:6]
    admin = sa.create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        print(json.dumps(run(f"{args.url}?options=-csearch_path%3D{schema}", args.n,
                             args.chunk, args.batch)))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
