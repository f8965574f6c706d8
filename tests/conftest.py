"""Fixtures against real parts: RabbitMQ, SQLite or PostgreSQL, a Prefect server, workers.

``CLARION_TEST_DB=postgresql`` runs the suite on PostgreSQL (a fresh schema per test);
the default is SQLite.  Under ``CI=true`` a missing service fails the run; it never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("CLARION_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG_URL = os.environ.get("CLARION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DB = os.environ.get("CLARION_TEST_DB", "sqlite")


def need(service: str, ok: bool, hint: str) -> None:
    """A missing service fails under CI and skips (with the reason) elsewhere."""
    if ok:
        return
    message = f"{service} is not available: {hint}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- databases -----------------------------------------------------------------------------

@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path / 'clarion.db'}"
        return
    need("PostgreSQL", port_open("127.0.0.1", 5432), "start it (scripts/ensure-services.sh)")
    import sqlalchemy as sa
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    from clarion.store.db import forget_stores
    forget_stores()  # close this test's pools before its schema goes
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# ---- RabbitMQ ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rabbitmq() -> str:
    need("RabbitMQ", port_open("127.0.0.1", 5672), "start it (scripts/ensure-services.sh)")
    return BROKER_URL


def delete_namespace(namespace: str, channels: list[str], delays: list[int]) -> None:
    import pika

    from clarion.broker.names import Names
    names = Names(namespace)
    conn = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        ch = conn.channel()
        queues = [q for c in channels for q in names.queues(c)]
        queues += [names.retry_queue(d) for d in delays] + [names.dead]
        queues += [names.campaign_runs]
        for q in queues:
            ch.queue_delete(q)
        for ex in (names.deliveries, names.retry, names.requeue, names.dead):
            ch.exchange_delete(ex)
    finally:
        conn.close()


# ---- a Clarion installation per test ---------------------------------------------------------

FAST_RETRIES = "[1, 1, 2, 3, 5]"


@pytest.fixture
def clarion_env(tmp_path: Path, db_url: str, rabbitmq: str,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """CLARION_* variables for this test (own broker namespace, own database)."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        "CLARION_DATA_DIR": str(tmp_path / "var"),
        "CLARION_DATABASE_URL": db_url,
        "CLARION_BROKER_URL": rabbitmq,
        "CLARION_BROKER_NAMESPACE": namespace,
        "CLARION_RETRY_DELAYS": FAST_RETRIES,
        "CLARION_APPROVAL": "off",  # tests/console turn it on
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from clarion.settings import get_settings
    get_settings.cache_clear()
    neutral_policy(db_url)
    yield env
    get_settings.cache_clear()
    from clarion.channels.registry import channel_specs
    from clarion.settings import load_settings
    delete_namespace(namespace, list(channel_specs(load_settings())), [1, 2, 3, 5])


def neutral_policy(db_url: str) -> None:
    """A site whose categories have no quiet hours, caps or duplicate windows: what the
    tests of the delivery path send must not depend on the hour they run at.  The seeded
    defaults have a test of their own; policy tests set what they test (tests/policy.py)."""
    import sqlalchemy as sa

    from clarion.store.db import store_for
    with store_for(db_url).connect() as conn:
        conn.execute(sa.text("UPDATE categories SET quiet_hours = NULL, cap_per_day = NULL, "
                             "cap_per_week = NULL, dedup_window_s = NULL"))


def seeded_policy(db_url: str) -> None:
    """Put back the categories' policy as migration 0005 seeds it (quiet hours, caps,
    duplicate windows): for the tests that show the site's defaults at work."""
    import importlib.util

    import sqlalchemy as sa

    from clarion.store.db import store_for
    path = ROOT / "clarion/store/migrations/versions/0005_policy.py"
    spec = importlib.util.spec_from_file_location("seed_0005", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    with store_for(db_url).connect() as conn:
        for name, _d, _critical, quiet, cap, window, _footer in module.SEED:
            conn.execute(sa.text("UPDATE categories SET quiet_hours = :q, cap_per_day = :c, "
                                 "dedup_window_s = :w WHERE name = :n"),
                         {"q": quiet, "c": cap, "w": window, "n": name})


@pytest.fixture
def settings(clarion_env):  # type: ignore[no-untyped-def]
    from clarion.settings import get_settings
    return get_settings()


@pytest.fixture
def store(settings):  # type: ignore[no-untyped-def]
    from clarion.store.db import store_for
    return store_for(settings.db_url)


@pytest.fixture
def campus(store) -> Callable[[int], int]:  # type: ignore[no-untyped-def]
    """Load a generated campus of N people; returns how many loaded."""
    def load(n: int = 200, seed: int = 1) -> int:
        from clarion.demo.campus import write_campus_csv
        from clarion.directory import import_csv
        path = write_campus_csv(Path(os.environ["CLARION_DATA_DIR"]) / f"campus-{n}.csv", n, seed)
        return import_csv(store, path).loaded
    return load


# ---- provider stand-ins ----------------------------------------------------------------------

@pytest.fixture
def sms_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Factory: start the capture SMS gateway (with optional faults) and point Clarion at it."""
    from clarion.demo.capture import start_sms_gateway
    handles = []

    def start(**faults):  # type: ignore[no-untyped-def]
        handle = start_sms_gateway(0, tmp_path / f"sms-{len(handles)}.jsonl", **faults)
        handles.append(handle)
        monkeypatch.setenv("CLARION_SMS_GATEWAY_URL", handle.url)
        from clarion.settings import get_settings
        get_settings.cache_clear()
        return handle
    yield start
    for h in handles:
        h.stop()


@pytest.fixture
def smtp_capture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from clarion.demo.capture import start_smtp_capture
    handle = start_smtp_capture(0, tmp_path / "mail")
    monkeypatch.setenv("CLARION_SMTP_URL", handle.url)
    from clarion.settings import get_settings
    get_settings.cache_clear()
    yield handle
    handle.stop()


# ---- worker processes --------------------------------------------------------------------------

class Workers:
    """Start and stop ``clarion worker`` processes with the test's environment."""

    def __init__(self, log_dir: Path):
        self.procs: list[subprocess.Popen] = []
        self.log_dir = log_dir

    def start(self, channels: str | None = None, extra_env: dict[str, str] | None = None
              ) -> subprocess.Popen:
        args = [sys.executable, "-m", "clarion.cli.main", "worker", "--log-level", "WARNING"]
        if channels:
            args += ["--channels", channels]
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "w")
        env = {**os.environ, **(extra_env or {})}
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def logs(self) -> str:
        return "\n".join(f.read_text() for f in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    w = Workers(tmp_path)
    yield w
    w.stop_all()


# ---- Prefect -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real local Prefect server for the session (ephemeral mode drops task-run records)."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
           "PREFECT_UI_ENABLED": "true", "PREFECT_UI_API_URL": url,  # the UI: browser tests
           "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    _wait_http(f"{url}/health", proc, home / "server.log")
    old = {k: os.environ.get(k) for k in ("PREFECT_API_URL", "PREFECT_HOME")}
    os.environ["PREFECT_API_URL"] = url
    os.environ["PREFECT_HOME"] = str(home)
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from clarion.flows.results import ensure_result_storage
    with ThreadPoolExecutor(1) as pool:  # as `clarion up` does; in a thread of its own, for
        # the browser tests' Playwright may hold a running loop in the main thread
        pool.submit(asyncio.run, ensure_result_storage(home / "results")).result()
    yield url
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up:\n{log.read_text()[-3000:]}")


def run_broadcast(request: dict, *, wait: bool = True, timeout_s: float = 300) -> dict:
    """Run the broadcast flow in this process (against the session's Prefect server)."""
    import asyncio

    from clarion.domain import CampaignRequest
    from clarion.flows.broadcast import broadcast
    return asyncio.run(broadcast(CampaignRequest.model_validate(request), wait=wait,
                                 timeout_s=timeout_s))


def wait_until(predicate: Callable[[], bool], timeout: float = 60, interval: float = 0.2,
               message: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass runs every test that reaches the database through ``db_url``
    (directly or through ``clarion_env``, ``settings``, ``store`` …): the rest do not touch
    a database and ran already in the SQLite pass.  Tests of SQLite's own mechanisms
    (``sqlite_only``: its writer queue, WAL, query plans) stay out of it."""
    if os.environ.get("CLARION_HA_DRILL") != "1":  # the drill restarts PostgreSQL and
        # takes minutes: its own run (scripts/ha-drill.sh, or CLARION_HA_DRILL=1 pytest
        # tests/ha/test_drill.py), not the suite's
        drill = [i for i in items if i.get_closest_marker("ha_drill")]
        if drill:
            config.hook.pytest_deselected(items=drill)
            items[:] = [i for i in items if not i.get_closest_marker("ha_drill")]
    if TEST_DB != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        uses_db = "db_url" in getattr(item, "fixturenames", ())
        (keep if uses_db and not item.get_closest_marker("sqlite_only") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
