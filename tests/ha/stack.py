"""The parts of the high-availability drill, each a thin face over a real thing.

``Hosts`` (scripts/ha-hosts.sh: network namespaces on a bridge), ``Cluster``
(scripts/rabbitmq-cluster.sh: three RabbitMQ nodes), ``Procs`` (processes, in a namespace
or not), ``Database`` (a database of its own on the machine's PostgreSQL), ``Prefect`` (a
server on the bridge, a process work pool, the broadcast deployment of prefect.yaml, the
lost-run automation) and ``Providers`` (the Aliyun SMS and WeCom fakes of tests/providers, listening
where the hosts reach them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
BIN = Path(sys.executable).parent
SUBNET = os.environ.get("CLARION_HA_SUBNET", "10.213.0")
BRIDGE = f"{SUBNET}.1"  # the host's side of the bridge: every service the hosts use is here
PG_URL = f"postgresql+psycopg://postgres@{BRIDGE}:5432/test"
PROVIDER_LATENCY_S = 0.2  # each provider call takes this long, as real ones do


def script(name: str, *args: str, timeout: float = 300) -> str:
    """Run one of scripts/, returning its output; its messages go to ours."""
    done = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True,
                          timeout=timeout)
    if done.stderr:
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stderr[-2000:]}")
    return done.stdout


def missing_capabilities() -> list[str]:
    """What this machine lacks for the drill (empty: it can run)."""
    from shutil import which
    wanted = {"root": os.geteuid() == 0, "ip (iproute2)": which("ip") is not None,
              "RabbitMQ (rabbitmq-server)": Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists(),
              "PostgreSQL (pg_ctlcluster, psql)": bool(which("pg_ctlcluster") and which("psql"))}
    if wanted["root"] and wanted["ip (iproute2)"]:
        probe = subprocess.run(["ip", "netns", "add", "clha-probe"], capture_output=True)
        wanted["network namespaces (ip netns add)"] = probe.returncode == 0
        subprocess.run(["ip", "netns", "del", "clha-probe"], capture_output=True)
    return [name for name, ok in wanted.items() if not ok]


# ---- hosts and the cluster -------------------------------------------------------------------

class Hosts:
    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def up(self) -> None:
        script("ha-hosts.sh", "up", *self.names)
        script("ha-hosts.sh", "open-postgres")

    def down(self) -> None:
        script("ha-hosts.sh", "down")

    def cut(self, name: str) -> None:
        script("ha-hosts.sh", "cut", name)

    def mend(self, name: str) -> None:
        script("ha-hosts.sh", "mend", name)

    @staticmethod
    def address(name: str) -> str:
        """a → 10.213.0.11, b → .12, … (as scripts/ha-hosts.sh numbers them)"""
        return f"{SUBNET}.{11 + 'abcdefghij'.index(name)}"

    @staticmethod
    def prefix(name: str | None) -> list[str]:
        return ["ip", "netns", "exec", f"clha-{name}"] if name else []


class Cluster:
    NODES = (1, 2, 3)

    def start(self) -> None:
        script("rabbitmq-cluster.sh", "start", "--listen", BRIDGE)

    def stop(self) -> None:
        script("rabbitmq-cluster.sh", "stop")

    def stop_node(self, n: int) -> None:
        script("rabbitmq-cluster.sh", "stop-node", str(n))

    def start_node(self, n: int) -> None:
        script("rabbitmq-cluster.sh", "start-node", str(n))

    def urls(self, query: str = "", host: str = BRIDGE) -> str:
        nodes = script("rabbitmq-cluster.sh", "urls", host).strip().split(",")
        return ",".join(f"{u}?{query}" if query else u for u in nodes)

    def leaders(self, prefix: str, ask: int = 1) -> dict[str, int]:
        """Queue → the number of the node leading it, for the queues named ``prefix…``."""
        out = script("rabbitmq-cluster.sh", "ctl", str(ask), "-q", "list_queues", "name",
                     "leader", "--formatter", "json", timeout=60)
        return {q["name"]: node_number(q["leader"]) for q in json.loads(out)
                if q["name"].startswith(prefix) and q.get("leader")}


def node_number(node: str) -> int:
    """clarion-ha2@localhost → 2"""
    return int(node.split("@")[0].removeprefix("clarion-ha"))


# ---- processes -------------------------------------------------------------------------------

class Procs:
    """Long-running children, each in its own session, logging to ``log_dir/<name>.log``."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str],
              host: str | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(Hosts.prefix(host) + argv, env={**os.environ, **env},
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                start_new_session=True)
        self.running[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, name: str, text: str, timeout: float = 120, after: int = 0) -> None:
        """Until ``text`` appears in the log of ``name`` (past its first ``after`` chars)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log(name)[after:]:
                return
            proc = self.running.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log(name)[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{name} never logged {text!r}: {self.log(name)[-3000:]}")

    def kill_tree(self, name: str) -> list[int]:
        """SIGKILL ``name`` and every process it started (a flow run is in a session of its
        own, so a process group would miss it); returns the pids killed."""
        import psutil
        proc = self.running.pop(name)
        try:
            family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
        except psutil.NoSuchProcess:
            family = []
        for p in family:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        proc.wait(10)
        return [p.pid for p in family]

    def stop_all(self, grace: float = 20) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.time() + grace
        for proc in self.running.values():
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(10)
        self.running.clear()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


# ---- the database of record ------------------------------------------------------------------

class Database:
    """A database of its own on the machine's PostgreSQL, reached at the bridge address like
    the hosts reach it; dropped at the end.  (Not a schema of the shared ``test`` database:
    migration 0004's CREATE INDEX CONCURRENTLY waits for every transaction of its database,
    other users' too.)"""

    def __init__(self) -> None:
        import sqlalchemy as sa
        self.name = f"clarion_ha_{uuid.uuid4().hex[:8]}"
        self.url = PG_URL.rsplit("/", 1)[0] + f"/{self.name}"
        self.admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {self.name}")
        self.engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=2)

    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows of ``sql``; a PostgreSQL being restarted answers after it is back."""
        import sqlalchemy as sa
        from sqlalchemy.exc import OperationalError
        for attempt in range(60):
            try:
                with self.engine.connect() as conn:
                    return list(conn.execute(sa.text(sql), params))
            except OperationalError:
                if attempt == 59:
                    raise
                time.sleep(0.5)
        return []

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self.admin.dispose()


# ---- Prefect ---------------------------------------------------------------------------------

class Prefect:
    """A Prefect server on the bridge (SQLite: its own database is not part of the drill), a
    process work pool ``campus``, the ``broadcast`` deployment of prefect.yaml, and the
    automation that reschedules runs whose heartbeats stopped."""

    POOL = "campus"

    def __init__(self, root: Path, procs: Procs, port: int):
        self.home, self.procs = root / "prefect", procs
        self.api = f"http://{BRIDGE}:{port}/api"
        self.port = port
        self.env = {"PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api,
                    "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_UI_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}

    def start(self, lost_after_s: float, site: dict[str, str]) -> None:
        """``site``: the CLARION_* variables of the site, for the deployment's form (its
        channels and categories are the site's choices)."""
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        self.procs.start("prefect-server", [str(BIN / "prefect"), "server", "start", "--host",
                                            BRIDGE, "--port", str(self.port)], env)
        _wait_http(f"{self.api}/health", 180)
        self.cli("work-pool", "create", self.POOL, "--type", "process", "--overwrite")
        self.cli("--no-prompt", "deploy", "--name", "broadcast", env=site)
        subprocess.run([sys.executable, "-m", "clarion.flows.recovery", "--within",
                        str(lost_after_s)], env={**os.environ, **self.env}, cwd=REPO,
                       check=True, capture_output=True, timeout=120)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> None:
        subprocess.run([str(BIN / "prefect"), *args], env={**os.environ, **(env or {}),
                                                           **self.env},
                       cwd=REPO, check=True, capture_output=True, timeout=180)

    def start_worker(self, host: str, env: dict[str, str]) -> subprocess.Popen:
        name = f"prefect-worker-{host}"
        proc = self.procs.start(name, [
            str(BIN / "prefect"), "worker", "start", "--pool", self.POOL, "--name",
            f"host-{host}", "--type", "process"], {**self.env, **env,
                                                  "PREFECT_WORKER_QUERY_SECONDS": "2",
                                                  "CLARION_HOME": str(REPO)}, host=host)
        self.procs.wait_log(name, "started", timeout=120)
        return proc


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


# ---- providers -------------------------------------------------------------------------------

class Providers:
    """Aliyun SMS and WeCom application fakes (they check signatures, tokens and batch limits
    as the providers do, and record what arrived), listening on the bridge."""

    def __init__(self) -> None:
        from tests.providers.fake_aliyun_sms import FakeAliyunSms
        from tests.providers.fake_wecom_app import FakeWecomApp
        from tests.providers.test_aliyun_sms import KEY_ID, SECRET as ALIYUN_SECRET
        from tests.providers.test_wecom_app import AGENT, CORP, SECRET as WECOM_SECRET

        class Aliyun(FakeAliyunSms):
            host, latency = BRIDGE, PROVIDER_LATENCY_S

        class Wecom(FakeWecomApp):
            host, latency = BRIDGE, PROVIDER_LATENCY_S
        # no per-number flow control: every drill sends to the same numbers again
        self.aliyun = Aliyun(KEY_ID, ALIYUN_SECRET, flow_limits=()).start()
        self.wecom = Wecom(CORP, WECOM_SECRET, AGENT, per_minute=10_000, per_hour=10_000).start()
        self.channels = {
            "sms": {"type": "aliyun_sms", "access_key_id": KEY_ID,
                    "access_key_secret": ALIYUN_SECRET, "sign_name": "Clarion",
                    "template_code": "SMS_100001", "endpoint": self.aliyun.base_url},
            "wecom": {"type": "wecom_app", "corp_id": CORP, "secret": WECOM_SECRET,
                      "agent_id": AGENT, "base_url": self.wecom.base_url}}

    def mark(self) -> tuple[int, int]:
        """Where the records stand now (what arrives later belongs to the next campaign)."""
        return len(self.aliyun.sent), len(self.wecom.delivered)

    def arrived_since(self, mark: tuple[int, int]) -> dict[str, list[str]]:
        """Channel → one address per message that arrived since ``mark`` (repeats kept)."""
        return {"sms": [s["number"] for s in self.aliyun.sent[mark[0]:]],
                "wecom": [user for user, _ in self.wecom.delivered[mark[1]:]]}

    def calling_from(self, address: str) -> bool:
        """Is a send call from ``address`` being answered right now?"""
        since = time.time() - PROVIDER_LATENCY_S
        return any(c["remote"] == address and c["at"] >= since
                   for fake in (self.aliyun, self.wecom) for c in fake.calls_of("send")[-50:])

    def close(self) -> None:
        self.aliyun.close()
        self.wecom.close()
