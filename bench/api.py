#!/usr/bin/env python
"""API benchmark: what the REST API accepts and how fast its messages reach the SMS gateway.

Three parts, each on a fresh data dir under /tmp, its own broker namespace, the sample campus
(1,000 people) and the capture SMS gateway in its own process:

* ``throughput`` — transactional ``POST /v1/messages`` (one recipient, sms) against
  ``uvicorn clarion.api:create_app`` with 1–2 worker processes, loaded by ``wrk`` (a Lua script
  for the POST; ``aiohttp`` clients when wrk is missing) for ~15 s at a few concurrency levels.
  Reports accepted (2xx) requests/s and p50/p99 latency.  No ``clarion worker`` runs, so this
  is the API and its database and broker alone (the messages wait in the queue).
* ``latency`` — with 2 ``clarion worker`` processes running: ≥200 sequential one-recipient
  messages; each time is the gateway's receive time (its JSON line's ``t``) minus the time just
  before the POST.  Reports median, p90, p99.
* ``inbox`` — one client holding the campus app's ``GET /v1/inbox/stream`` (server-sent
  events) open, one worker serving the inbox: sequential one-recipient inbox messages; each time
  is the client's receive time minus the inbox row's ``created_at`` (the worker's record).
* ``campaign`` — a local Prefect server, ``clarion serve`` and 2 workers: an emergency
  campaign (everyone, sms) via ``POST /v1/campaigns``; time from the call to the first
  delivery at the gateway and to the last, median of ≥5 runs.  ``--poll`` sets
  PREFECT_RUNNER_POLL_FREQUENCY for ``clarion serve`` (Prefect's default is 10 s).

    python bench/api.py                                  # all three parts, defaults
    python bench/api.py --parts throughput --api-workers 1,2 --concurrency 16,64
    python bench/api.py --parts latency --samples 300
    python bench/api.py --parts campaign --runs 5 --poll 10,1
    python bench/api.py --parts throughput --profile     # py-spy on one API worker
    python bench/api.py --parts inbox --samples 100      # worker records → inbox stream client
    python bench/api.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

Results go to bench/results/api-<part>.json (``--tag`` adds a suffix) and a table on stdout;
docs/BENCHMARKS.md says what they mean.  Needs RabbitMQ on 127.0.0.1:5672, the venv with
clarion installed, wrk (apt) for the throughput part and py-spy for ``--profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
PEPPER = "bench-pepper"
CAMPUS = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "loadavg_at_start": [round(x, 2) for x in load],
            "wrk": shutil.which("wrk") is not None}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def wait_http(url: str, proc: subprocess.Popen | None, timeout: float = 90,
              ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status in ok:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def get_json(url: str, body: dict | None = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


# ---- one installation: data dir, database, namespace, campus, gateway, key -------------------

class Rig:
    """Everything one part runs against; ``close`` stops what it started and cleans up."""

    def __init__(self, args: argparse.Namespace, part: str):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix=f"clarion-bench-api-{part}-"))
        self.namespace = f"benchapi-{os.getpid()}-{part}"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.logs: list[Any] = []
        self.schema: str | None = None
        db = args.db or f"sqlite:///{self.dir / 'clarion.db'}"
        if db.startswith("postgresql"):
            import sqlalchemy as sa
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(db, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
            admin.dispose()
            self.admin_url = db
            db = f"{db}?options=-csearch_path%3D{self.schema}"
        self.env = {**os.environ,
                    "CLARION_DATA_DIR": str(self.dir / "var"),
                    "CLARION_DATABASE_URL": db,
                    "CLARION_BROKER_URL": args.broker,
                    "CLARION_BROKER_NAMESPACE": self.namespace,
                    "CLARION_API_KEY_PEPPER": PEPPER,
                    "CLARION_LOG_LEVEL": "WARNING",
                    "PREFECT_LOGGING_LEVEL": "WARNING",
                    "DO_NOT_TRACK": "1"}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("CLARION_")})
        self.gateway_out = self.dir / "sms.jsonl"
        port = free_port()
        self.gateway = self.start("gateway", [sys.executable, "-m", "clarion.demo.capture", "sms",
                                              "--port", str(port), "--out",
                                              str(self.gateway_out)])
        self.gateway_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.gateway_url}/stats", self.gateway)
        self.env["CLARION_SMS_GATEWAY_URL"] = f"{self.gateway_url}/send"
        os.environ["CLARION_SMS_GATEWAY_URL"] = self.env["CLARION_SMS_GATEWAY_URL"]
        from clarion.settings import get_settings
        get_settings.cache_clear()
        self.settings = get_settings()
        import clarion.api  # noqa: F401 - the API's tables
        from clarion.demo.campus import write_campus_csv
        from clarion.directory import import_csv
        from clarion.store.db import store_for
        self.store = store_for(self.settings.db_url)  # migrates before any server starts
        import_csv(self.store, write_campus_csv(self.dir / "campus.csv", CAMPUS, 1))
        from clarion.security import ApiSettings, create_key
        _key_id, self.key = create_key(self.store, ApiSettings(), "bench", ["*", "emergency"],
                                       ["*"], ["*"], rate=1_000_000.0)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "w")
        self.logs.append(log)
        proc = subprocess.Popen(argv, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=REPO, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def gateway_stats(self) -> dict[str, Any]:
        return get_json(f"{self.gateway_url}/stats")

    def gateway_records(self) -> list[dict[str, Any]]:
        if not self.gateway_out.exists():
            return []
        out = []
        for line in self.gateway_out.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # the last line, half written
        return out

    def start_api(self, workers: int) -> str:
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "clarion.api:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--log-level", "warning", "--no-access-log"]
        proc = self.start(f"api-w{workers}-{port}", argv)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", proc, ok=(200, 503))
        return url

    def start_workers(self, n: int = 2, channels: str = "sms") -> None:
        for i in range(n):
            self.start(f"worker-{i}", [str(BIN / "clarion"), "worker", "--channels", channels,
                                       "--log-level", "WARNING"])

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self) -> None:
        for _name, proc in reversed(self.procs):
            self.stop(proc)
        for log in self.logs:
            log.close()
        try:
            self._delete_namespace()
        except Exception as exc:  # noqa: BLE001 - cleanup is best effort
            print(f"warning: could not delete namespace {self.namespace}: {exc!r}")
        if self.schema:
            import sqlalchemy as sa
            from clarion.store import db as store_db
            for store in store_db._STORES.values():
                getattr(store, "engine", store).dispose()
            admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {self.schema} CASCADE"))
            admin.dispose()
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _delete_namespace(self) -> None:
        import pika

        from clarion.broker.names import Names
        from clarion.channels.registry import channel_specs
        names = Names(self.namespace)
        conn = pika.BlockingConnection(pika.URLParameters(self.args.broker))
        try:
            ch = conn.channel()
            for c in channel_specs(self.settings):
                for q in names.queues(c):
                    ch.queue_delete(q)
            for d in self.settings.retry_delays:
                ch.queue_delete(names.retry_queue(d))
            ch.queue_delete(names.dead)
            for ex in (names.deliveries, names.retry, names.requeue, names.dead):
                ch.exchange_delete(ex)
        finally:
            conn.close()


def one_message(text: str, to: str = "+8613900000001", priority: str = "normal") -> dict:
    return {"category": "library", "priority": priority, "channels": ["sms"],
            "to": [{"sms": to, "name": "Bench"}], "content": {"sms": {"text": text}}}


# ---- (a) throughput ---------------------------------------------------------------------------

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.body = '%(body)s'
local ok, bad = 0, 0
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
"""


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, non-2xx, duration and the latency distribution from wrk --latency."""
    def ms(token: str) -> float:
        units = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
        for unit in ("us", "ms", "s", "m"):
            if token.endswith(unit) and token[:-len(unit)].replace(".", "").isdigit():
                return float(token[:-len(unit)]) * units[unit]
        return float("nan")
    res: dict[str, Any] = {"non2xx": 0, "socket_errors": None}
    in_dist = False
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("Latency Distribution"):
            in_dist = True
            continue
        if in_dist and "%" in s and len(s.split()) == 2:
            q, v = s.split()
            res[f"p{q.rstrip('%')}_ms"] = ms(v)
            continue
        in_dist = False
        if " requests in " in s:
            parts = s.split()
            res["requests"] = int(parts[0])
            res["duration_s"] = ms(parts[3].rstrip(",")) / 1000
        elif s.startswith("Non-2xx or 3xx responses:"):
            res["non2xx"] = int(s.split(":")[1])
        elif s.startswith("Socket errors:"):
            res["socket_errors"] = s.split(":", 1)[1].strip()
    return res


def run_wrk(url: str, key: str, concurrency: int, seconds: int, workdir: Path) -> dict[str, Any]:
    body = json.dumps(one_message("Bench: your book is due")).replace("'", "\\'")
    script = workdir / "post.lua"
    script.write_text(WRK_LUA % {"key": key, "body": body})
    threads = min(2, concurrency)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
                          "--timeout", "10s", "--latency", "-s", str(script),
                          f"{url}/v1/messages"], capture_output=True, text=True, check=True).stdout
    res = parse_wrk(out)
    res["accepted_per_s"] = round((res["requests"] - res["non2xx"]) / res["duration_s"], 1)
    res["raw"] = out
    return res


async def _aiohttp_load(url: str, key: str, concurrency: int, seconds: float) -> dict[str, Any]:
    import aiohttp
    body = one_message("Bench: your book is due")
    headers = {"Authorization": f"Bearer {key}"}
    lat: list[float] = []
    codes: dict[int, int] = {}
    stop = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            async with session.post(f"{url}/v1/messages", json=body, headers=headers) as r:
                await r.read()
                codes[r.status] = codes.get(r.status, 0) + 1
                if 200 <= r.status < 300:
                    lat.append((time.perf_counter() - t0) * 1000)
    started = time.monotonic()
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    return {"requests": sum(codes.values()), "non2xx": sum(codes.values()) - ok,
            "duration_s": elapsed, "accepted_per_s": round(ok / elapsed, 1),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "codes": codes}


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if exe is None:
        print("py-spy not found; --profile skipped")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", "97", "--format", "raw", "--output", str(out),
                             "--nonblocking"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)


def summarize_profile(raw: Path, top: int = 25) -> list[tuple[str, float]]:
    """Inclusive share of samples per function (file:function), from py-spy's raw format."""
    totals: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].split(
                "site-packages/")[-1].split("clarion/")[-1] + ")" if " (" in frame else frame
            if name not in seen:
                seen.add(name)
                totals[name] = totals.get(name, 0) + n
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(k, round(100 * v / max(samples, 1), 1)) for k, v in ranked]


def part_throughput(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for workers in args.api_workers:
        rig = Rig(args, f"tp{workers}")
        try:
            url = rig.start_api(workers)
            # warm up: the publisher connection, the key cache, SQLite's page cache
            for _ in range(20):
                req = urllib.request.Request(
                    f"{url}/v1/messages", data=json.dumps(one_message("warm")).encode(),
                    headers={"Authorization": f"Bearer {rig.key}",
                             "Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=10).read()
            for c in args.concurrency:
                profile = None
                if args.profile:
                    import psutil
                    api = [p for n, p in rig.procs if n.startswith("api-")][-1]
                    kids = psutil.Process(api.pid).children()
                    target = kids[0].pid if kids else api.pid
                    raw = RESULTS / f"api-profile-w{workers}-c{c}{args.tag}.pyspy.txt"
                    profile = (py_spy(target, max(5, args.seconds - 3), raw), raw)
                cpu0 = _cpu_times(rig)
                if shutil.which("wrk") and not args.aiohttp:
                    res = run_wrk(url, rig.key, c, args.seconds, rig.dir)
                else:
                    res = asyncio.run(_aiohttp_load(url, rig.key, c, args.seconds))
                res["cpu_s"] = _cpu_delta(cpu0, _cpu_times(rig))
                res.update(api_workers=workers, concurrency=c,
                           loadgen="wrk" if "raw" in res else "aiohttp")
                if profile and profile[0] is not None:
                    profile[0].wait(timeout=60)
                    res["profile_top"] = summarize_profile(profile[1])
                    res["profile_file"] = str(profile[1].relative_to(REPO))
                rows.append(res)
                print(f"api workers={workers} c={c:>3}: {res['accepted_per_s']:>7.1f} accepted/s"
                      f"  p50 {res.get('p50_ms', float('nan')):.1f} ms"
                      f"  p99 {res.get('p99_ms', float('nan')):.1f} ms"
                      f"  non-2xx {res['non2xx']}  cpu {res['cpu_s']}", flush=True)
                time.sleep(2)
        finally:
            rig.close()
    best = max(rows, key=lambda r: r["accepted_per_s"])
    return {"rows": rows, "best": {k: best.get(k) for k in
                                   ("api_workers", "concurrency", "accepted_per_s", "p50_ms",
                                    "p99_ms")},
            "target_per_s": 500, "met": best["accepted_per_s"] >= 500}


def _cpu_times(rig: Rig) -> dict[str, float]:
    import psutil
    out: dict[str, float] = {}
    for name, proc in rig.procs:
        try:
            p = psutil.Process(proc.pid)
            total = sum(sum(x.cpu_times()[:2]) for x in [p, *p.children(recursive=True)])
            out[name] = total
        except psutil.Error:
            pass
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "beam.smp":
            out["rabbitmq"] = sum(p.cpu_times()[:2])
    return out


def _cpu_delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: round(b[k] - a.get(k, 0.0), 1) for k in b if k in a or k.startswith("api")}


# ---- (b) API → gateway latency ------------------------------------------------------------------

def part_latency(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    rig = Rig(args, "lat")
    try:
        url = rig.start_api(1)
        rig.start_workers(2)
        headers = {"Authorization": f"Bearer {rig.key}"}
        results: dict[str, Any] = {}
        with httpx.Client(timeout=10) as http:
            # warm-up until a message comes through: workers connected, publisher open
            deadline = time.time() + 60
            while rig.gateway_stats()["received"] == 0 and time.time() < deadline:
                http.post(f"{url}/v1/messages", json=one_message("warm-up"), headers=headers)
                time.sleep(0.5)
            for priority in args.priorities:
                sent: dict[str, float] = {}
                accept_ms: list[float] = []
                retried = 0
                for i in range(args.samples):
                    text = f"lat-{priority}-{i}"
                    before = rig.gateway_stats()["received"]
                    t0 = time.time()
                    for _attempt in range(10):  # as a client would: retry a 503, same key
                        r = http.post(f"{url}/v1/messages",
                                      json=one_message(text, priority=priority),
                                      headers={**headers, "Idempotency-Key": text})
                        if r.status_code != 503:
                            break
                        retried += 1
                        time.sleep(0.5)
                    accept_ms.append((time.time() - t0) * 1000)
                    assert r.status_code == 202, r.text
                    sent[text] = t0
                    until = time.time() + 10
                    while rig.gateway_stats()["received"] <= before and time.time() < until:
                        time.sleep(0.002)
                time.sleep(0.5)  # the gateway writes its file every 0.2 s
                arrived = {x["text"]: x["t"] for x in rig.gateway_records() if x["text"] in sent}
                lat = [(arrived[t] - sent[t]) * 1000 for t in sent if t in arrived]
                results[priority] = {
                    "samples": len(lat), "lost": len(sent) - len(lat),
                    "median_ms": round(statistics.median(lat), 1),
                    "p90_ms": round(pct(lat, 90), 1), "p99_ms": round(pct(lat, 99), 1),
                    "min_ms": round(min(lat), 1), "max_ms": round(max(lat), 1),
                    "api_accept_median_ms": round(statistics.median(accept_ms), 1),
                    "retried_503": retried, "idempotency_key": True}
                print(f"API → gateway ({priority}): median {results[priority]['median_ms']} ms, "
                      f"p90 {results[priority]['p90_ms']} ms, p99 {results[priority]['p99_ms']}"
                      f" ms over {len(lat)} (202 in {results[priority]['api_accept_median_ms']}"
                      f" ms median)", flush=True)
        first = results[args.priorities[0]]
        return {"by_priority": results, "target_median_ms": 300,
                "met": all(r["median_ms"] < 300 for r in results.values()),
                "median_ms": first["median_ms"]}
    finally:
        rig.close()


# ---- (d) inbox: the worker records a row → the campus app's stream has it ----------------------

def _sse_reader(url: str, headers: dict[str, str], out: Any, stop: Any) -> None:
    import httpx
    try:
        with httpx.stream("GET", url, headers=headers,
                          timeout=httpx.Timeout(30, read=None)) as r:
            out.put(("status", r.status_code, time.time()))
            for line in r.iter_lines():
                if line.startswith("data: "):
                    out.put(("data", json.loads(line[6:]), time.time()))
                if stop.is_set():
                    return
    except httpx.HTTPError:
        pass


def part_inbox(args: argparse.Namespace) -> dict[str, Any]:
    """One client holds ``GET /v1/inbox/stream`` open; ``--samples`` one-recipient inbox
    messages are sent one after another; each latency is the client's receive time minus the
    inbox row's ``created_at`` (written in the worker's recording transaction)."""
    import queue
    import threading

    import httpx
    from sqlalchemy import select

    rig = Rig(args, "inbox")
    try:
        rig.env["CLARION_INBOX_TOKEN_SECRET"] = os.environ["CLARION_INBOX_TOKEN_SECRET"] = \
            "bench-inbox-secret"
        from clarion.security import ApiSettings, issue_inbox_token
        from clarion.store.models import InboxMessage, Recipient
        with rig.store.read() as conn:
            rid = conn.execute(select(Recipient.id).order_by(Recipient.id).limit(1)).scalar_one()
        token = issue_inbox_token(ApiSettings(), rid)
        url = rig.start_api(1)
        rig.start_workers(1, channels="inbox")
        out: Any = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=_sse_reader, daemon=True, args=(
            f"{url}/v1/inbox/stream", {"Authorization": f"Bearer {token}"}, out, stop)).start()
        if out.get(timeout=30)[1] != 200:
            raise RuntimeError("the inbox stream was refused")
        headers = {"Authorization": f"Bearer {rig.key}"}
        received: dict[str, float] = {}
        with httpx.Client(timeout=10) as http:
            rng = random.Random(1)
            for i in range(args.samples + 1):  # the first one warms the worker up
                time.sleep(rng.uniform(0, 0.3))  # out of step with the stream's poll
                title = f"inbox-{i}"
                r = http.post(f"{url}/v1/messages", headers=headers, json={
                    "category": "library", "channels": ["inbox"], "to": [{"id": rid}],
                    "content": {"default": {"title": title, "body": "Your hold is ready"}}})
                assert r.status_code == 202, r.text
                while title not in received:
                    kind, item, at = out.get(timeout=30)
                    if kind == "data":
                        received[item["title"]] = at
        stop.set()
        with rig.store.read() as conn:
            written = dict(conn.execute(select(InboxMessage.title, InboxMessage.created_at)
                                        .where(InboxMessage.recipient_id == rid)).all())

        def ts(value: Any) -> float:
            return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
        lat = [(received[t] - ts(written[t])) * 1000 for t in received
               if t in written and t != "inbox-0"]
        result = {"samples": len(lat), "median_ms": round(statistics.median(lat), 1),
                  "p90_ms": round(pct(lat, 90), 1), "p99_ms": round(pct(lat, 99), 1),
                  "max_ms": round(max(lat), 1),
                  "poll_seconds": ApiSettings().inbox_poll_seconds,
                  "target_ms": 1000, "met": max(lat) < 1000}
        print(f"inbox row recorded → client: median {result['median_ms']} ms, p99 "
              f"{result['p99_ms']} ms, max {result['max_ms']} ms over {len(lat)}", flush=True)
        return result
    finally:
        rig.close()


# ---- (c) campaign: call → first delivery ----------------------------------------------------------

def start_prefect(rig: Rig) -> str:
    home = rig.dir / "prefect-home"
    home.mkdir()
    port = free_port()
    env = {**rig.env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
           "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    proc = rig.start("prefect", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env)
    api = f"http://127.0.0.1:{port}/api"
    wait_http(f"{api}/health", proc, timeout=120)
    for k in ("PREFECT_API_URL", "PREFECT_HOME"):
        rig.env[k] = api if k == "PREFECT_API_URL" else str(home)
    return api


def part_campaign(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    out: dict[str, Any] = {}
    for poll in args.poll:
        rig = Rig(args, f"camp{poll}")
        try:
            api = start_prefect(rig)
            serve_env = {**rig.env, "PREFECT_RUNNER_POLL_FREQUENCY": str(poll)}
            rig.start("serve", [str(BIN / "clarion"), "serve"], env=serve_env)
            rig.start_workers(2)
            url = rig.start_api(1)
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    get_json(f"{api}/deployments/name/broadcast/broadcast")
                    break
                except OSError:
                    time.sleep(0.5)
            headers = {"Authorization": f"Bearer {rig.key}"}
            runs = []
            with httpx.Client(timeout=30) as http:
                for i in range(args.runs):
                    marker = f"EMERGENCY drill {poll}-{i}"
                    body = {"name": f"drill {i}", "category": "emergency",
                            "priority": "emergency", "audience": {"everyone": True},
                            "channels": ["sms"], "content": {"sms": {"text": marker}}}
                    t0 = time.time()
                    r = http.post(f"{url}/v1/campaigns", json=body,
                                  headers={**headers, "Idempotency-Key": f"drill-{poll}-{i}"})
                    accepted = time.time() - t0
                    assert r.status_code == 202, r.text
                    first = last = None
                    until = time.time() + 300
                    while time.time() < until:
                        times = [x["t"] for x in rig.gateway_records() if x["text"] == marker]
                        if times and first is None:
                            first = min(times)
                        if len(times) >= CAMPUS:
                            last = max(times)
                            break
                        time.sleep(0.1)
                    run_id = r.json()["flow_run_id"]
                    fr = get_json(f"{api}/flow_runs/{run_id}")
                    start = fr.get("start_time")
                    started_after = None
                    if start:
                        started_after = round(datetime.fromisoformat(start).timestamp() - t0, 3)
                    runs.append({"accept_s": round(accepted, 3),
                                 "flow_started_s": started_after,
                                 "first_delivery_s": round(first - t0, 3) if first else None,
                                 "last_delivery_s": round(last - t0, 3) if last else None})
                    print(f"poll={poll}s run {i}: 202 in {accepted:.3f}s, flow started "
                          f"{started_after}s, first SMS {runs[-1]['first_delivery_s']}s, "
                          f"all {CAMPUS} {runs[-1]['last_delivery_s']}s", flush=True)
                    # wait for the flow run to finish before the next one
                    until = time.time() + 120
                    while time.time() < until:
                        state = get_json(f"{api}/flow_runs/{run_id}")["state"]["type"]
                        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                            break
                        time.sleep(0.5)
            firsts = [r["first_delivery_s"] for r in runs if r["first_delivery_s"] is not None]
            out[f"poll_{poll}s"] = {
                "runs": runs, "recipients": CAMPUS,
                "first_delivery_median_s": round(statistics.median(firsts), 3) if firsts else None,
                "last_delivery_median_s": round(statistics.median(
                    [r["last_delivery_s"] for r in runs if r["last_delivery_s"]] or [0]), 3),
                "met": bool(firsts) and statistics.median(firsts) < 3.0}
        finally:
            rig.close()
    return {"by_poll_frequency": out, "target_first_delivery_s": 3.0}


# ---- main ---------------------------------------------------------------------------------------

def ints(value: str) -> list[int]:
    return [int(x) for x in value.split(",") if x]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="throughput,latency,campaign,inbox")
    p.add_argument("--api-workers", type=ints, default=[1, 2])
    p.add_argument("--concurrency", type=ints, default=[16, 64])
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--aiohttp", action="store_true", help="aiohttp clients instead of wrk")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--priorities", default="normal", type=lambda s: s.split(","))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--poll", type=ints, default=[1],
                   help="PREFECT_RUNNER_POLL_FREQUENCY values for clarion serve")
    p.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema per part)")
    p.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    p.add_argument("--profile", action="store_true", help="py-spy an API worker (throughput)")
    p.add_argument("--tag", default="", help="suffix for the result files")
    p.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = p.parse_args()
    args.tag = f"-{args.tag}" if args.tag else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    info = machine()
    print(f"machine: {info}", flush=True)
    parts = {"throughput": part_throughput, "latency": part_latency, "campaign": part_campaign,
             "inbox": part_inbox}
    for name in args.parts.split(","):
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        result = parts[name](args)
        result.update(part=name, started=started, machine=info,
                      database="postgresql" if args.db else "sqlite",
                      argv=sys.argv[1:])
        path = RESULTS / f"api-{name}{args.tag}.json"
        for row in result.get("rows", []):
            row.pop("raw", None)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"→ {path.relative_to(REPO)}", flush=True)


if __name__ == "__main__":
    main()
