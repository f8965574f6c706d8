#!/usr/bin/env python
"""Console benchmark: the Overview page with 1,000 campaigns and 5 million deliveries.

The data are made with bulk SQL (``INSERT … SELECT`` over a generated series), not through
the pipeline: 1,000 campaigns over 90 days (the last 3 running, 5 more in the last hour),
5,000 deliveries each (3% failed, 2% skipped, the rest sent; the running ones part queued),
500,000 events; then ANALYZE (PostgreSQL: VACUUM ANALYZE, as autovacuum would leave it).
Then the whole app (create_app, the console's session, template and queries) answers
``GET /console/`` in process, signed in as an admin; each request is timed from the
client.  Also timed: one tick of the live progress (``progress.snapshot``) and the
campaigns list.  RabbitMQ is read for queue depths (cached 5 s, as in production).

    python bench/console_overview.py                       # SQLite, 5,000,000 deliveries
    python bench/console_overview.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/console_overview.py --deliveries 500000 --requests 50 --json-out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PER_CAMPAIGN = 5000


def campaign_rows(n: int) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    rows = []
    for c in range(n):
        running, recent = c >= n - 3, n - 8 <= c < n - 3
        at = now - (timedelta(minutes=5) if running else timedelta(minutes=30) if recent
                    else timedelta(days=90 * (n - c) / n))
        rows.append({"id": f"c_bench{c:017d}", "key": f"bench-{c}", "name": f"Notice {c}",
                     "category": ("academic", "exams", "campus", "library")[c % 4],
                     "priority": "normal", "source": ("registrar", "library", "console")[c % 3],
                     "request": {}, "status": "running" if running else "completed",
                     "route": {"channels": ["sms"], "mode": "all"}, "created_at": at,
                     "finished_at": None if running else at + timedelta(minutes=10)})
    return rows


def deliveries_sql(dialect: str, start: int, stop: int, running_from: int) -> str:
    """One chunk of deliveries [start, stop) copied from their campaign's row."""
    status = (f"CASE WHEN i >= {running_from} AND i % 10 < 4 THEN 'queued' "
              "WHEN i % 100 < 3 THEN 'failed' WHEN i % 100 < 5 THEN 'skipped' ELSE 'sent' END")
    if dialect == "sqlite":
        series = (f"WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n "
                  f"WHERE i < {stop - 1}) ")
        did, cid = "printf('d_bench%019d', i)", f"printf('c_bench%017d', i / {PER_CAMPAIGN})"
        rid = f"printf('S%07d', i % {PER_CAMPAIGN})"
        source = "FROM n JOIN campaigns c ON c.id = " + cid
    else:
        series = ""
        did = "'d_bench' || lpad(i::text, 19, '0')"
        cid = f"'c_bench' || lpad((i / {PER_CAMPAIGN})::text, 17, '0')"
        rid = f"'S' || lpad((i % {PER_CAMPAIGN})::text, 7, '0')"
        source = (f"FROM generate_series({start}, {stop - 1}) AS i JOIN campaigns c "
                  f"ON c.id = {cid}")
    channel = "CASE (i / 5000) % 3 WHEN 0 THEN 'sms' WHEN 1 THEN 'email' ELSE 'inbox' END"
    return (f"{series}INSERT INTO deliveries (id, campaign_id, recipient_id, channel, address, "
            "content, category, priority, source, status, attempts, created_at, updated_at) "
            f"SELECT {did}, c.id, {rid}, {channel}, 'x', '{{}}', c.category, 'normal', "
            f"c.source, {status}, 1, c.created_at, c.created_at {source}")


def events_sql(dialect: str, n: int, deliveries: int) -> str:
    step = max(1, deliveries // n)
    if dialect == "sqlite":
        return ("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < "
                f"{n - 1}) INSERT INTO delivery_events (delivery_id, at, status, attempt, "
                f"reason, actor) SELECT printf('d_bench%019d', i * {step}), "
                "datetime('now'), CASE WHEN i % 50 = 0 THEN 'queued' ELSE 'sent' END, "
                "1, CASE WHEN i % 50 = 0 THEN 'retry in 5s: 503' END, 'bench' FROM n")
    return ("INSERT INTO delivery_events (delivery_id, at, status, attempt, reason, actor) "
            f"SELECT 'd_bench' || lpad((i * {step})::text, 19, '0'), now(), CASE WHEN "
            "i % 50 = 0 THEN 'queued' ELSE 'sent' END, 1, CASE WHEN i % 50 = 0 THEN "
            f"'retry in 5s: 503' END, 'bench' FROM generate_series(0, {n - 1}) AS i")


def fill(store: Any, campaigns: int, deliveries: int, events: int) -> float:
    from sqlalchemy import insert, text

    from clarion.store.models import Campaign
    t = time.time()
    with store.connect() as conn:
        conn.execute(insert(Campaign), campaign_rows(campaigns))
    running_from = (campaigns - 3) * PER_CAMPAIGN
    for start in range(0, deliveries, 500_000):
        with store.connect() as conn:
            conn.execute(text(deliveries_sql(store.dialect, start,
                                             min(deliveries, start + 500_000), running_from)))
        print(f"  {min(deliveries, start + 500_000):,} deliveries", flush=True)
    with store.connect() as conn:
        conn.execute(text(events_sql(store.dialect, events, deliveries)))
        if store.dialect == "sqlite":
            conn.exec_driver_sql("ANALYZE")
    if store.dialect == "postgresql":  # as autovacuum leaves a table: visibility map set
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE campaigns, deliveries, delivery_events"))
    return time.time() - t


def timed(fn: Callable[[], Any], n: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2), "min_ms": round(ms[0], 2),
            "max_ms": round(ms[-1], 2), "n": len(ms)}


def signed_in_client(store: Any, settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from clarion.api import create_app
    from clarion.console.accounts import create_staff, staff
    from clarion.console.sessions import COOKIE, open_session
    from clarion.console.settings import ConsoleSettings
    from clarion.security import ApiSettings
    member = staff(store, create_staff(store, "bench@campus.example.edu", "x" * 12, "admin",
                                       "bench"))
    token = open_session(store, ConsoleSettings(), member).token  # type: ignore[arg-type]
    client = TestClient(create_app(settings, ApiSettings()))
    client.cookies.set(COOKIE, token, path="/console")
    return client


def measure(store: Any, settings: Any, n: int) -> dict[str, Any]:
    from clarion.console.progress import snapshot
    client = signed_in_client(store, settings)

    def overview() -> None:
        r = client.get("/console/")
        assert r.status_code == 200 and "progress-c_bench" in r.text, r.status_code
    return {"overview": summary(timed(overview, n)),
            "progress_tick": summary(timed(lambda: snapshot(store), n)),
            "campaign_list": summary(timed(lambda: client.get("/console/campaigns"), n))}


def database(args: argparse.Namespace, root: Path) -> tuple[str, Callable[[], None]]:
    if not args.db:
        return f"sqlite:///{root / 'clarion.db'}", lambda: None
    import sqlalchemy as sa
    schema = f"bench_console_{os.getpid()}"
    admin = sa.create_engine(args.db, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    return f"{args.db}?options=-csearch_path%3D{schema}", drop


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=None, help="postgresql+psycopg://… (default: SQLite)")
    p.add_argument("--campaigns", type=int, default=1000)
    p.add_argument("--deliveries", type=int, default=5_000_000)
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    root = Path(tempfile.mkdtemp(prefix="clarion-bench-console-"))
    url, drop = database(args, root)
    os.environ.update({"CLARION_DATA_DIR": str(root), "CLARION_DATABASE_URL": url,
                       "CLARION_BROKER_NAMESPACE": "bench-console"})
    from clarion.settings import get_settings
    from clarion.store.db import store_for
    settings = get_settings()
    store = store_for(url)
    try:
        per = args.deliveries // args.campaigns
        assert per == PER_CAMPAIGN, "deliveries / campaigns must be 5,000"
        print(f"filling {store.dialect}: {args.campaigns:,} campaigns, {args.deliveries:,} "
              f"deliveries, {args.events:,} events", flush=True)
        fill_s = fill(store, args.campaigns, args.deliveries, args.events)
        result = {"db": store.dialect, "campaigns": args.campaigns,
                  "deliveries": args.deliveries, "events": args.events,
                  "fill_seconds": round(fill_s, 1), "loadavg_before": os.getloadavg(),
                  **measure(store, settings, args.requests), "loadavg_after": os.getloadavg()}
    finally:
        store.engine.dispose()
        drop()
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
