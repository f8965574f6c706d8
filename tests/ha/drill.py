"""The high-availability drill: emergency campaigns through a cluster while parts fail.

Set-up (``Stack``): worker hosts ``a``, ``b``, ``c`` as network namespaces on a private bridge,
each running ``clarion worker`` processes; Prefect process workers (pool ``campus``) on ``a``
and ``b``; a 3-node RabbitMQ cluster with quorum queues; PostgreSQL as the database of record;
the Aliyun SMS and WeCom fakes recording what arrives.  Each case runs one emergency campaign
(SMS + WeCom + inbox, the urgent lane) through the ``broadcast`` deployment and, mid-campaign,
injects one fault:

    rabbit-leader   stop the RabbitMQ node leading the campaign's urgent lanes
    link-cut        take worker host c's link down for a while, then bring it back
    postgres        restart PostgreSQL (pg_ctlcluster … restart)
    prefect-kill    SIGKILL the Prefect worker running the fan-out, with its flow run
    leader-down-before-start   the urgent lanes' leader node is stopped before the campaign
    combined        prefect-kill, rabbit-leader, postgres and link-cut in one campaign
    baseline        no fault, for comparison

and measures: deliveries, final, lost (must be 0), duplicates at the providers (and the
takeovers and retries that bound them), time to recover, total time.

    python -m tests.ha.drill [--recipients N] [--cases a,b,…] [--out results.json]

(``scripts/ha-drill.sh`` runs it as root, cleaning up whatever happens.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .stack import (
    BRIDGE, REPO, Cluster, Database, Hosts, Prefect, Procs, Providers, missing_capabilities,
)

HOSTS = ("a", "b", "c")
PREFECT_HOSTS = ("a", "b")
CUT_HOST = "c"
OPEN = ("pending", "queued", "sending", "deferred")
EMERGENCY = REPO / "clarion" / "demo" / "emergency.json"  # the benchmark's alert too
CHANNELS = tuple(json.loads(EMERGENCY.read_text())["channels"])  # SMS, WeCom, inbox


@dataclass
class Settings:
    recipients: int = 20_000
    workers_per_host: int = 1
    broker_heartbeat_s: int = 5  # how soon a lost host's unacked deliveries go to others
    cut_s: float = 20.0  # how long host c's link stays down
    lost_run_after_s: float = 40.0  # no flow-run heartbeat (every 30 s) for this long: lost
    campaign_timeout_s: float = 300.0
    keep: bool = False  # keep the logs (they are kept anyway when something failed)
    root: Path = field(default_factory=lambda: Path(f"/tmp/clarion-ha-drill-{os.getpid()}"))


def prefect_api(url: str):  # type: ignore[no-untyped-def]
    """Prefect's client settings pointed at ``url`` for the block (a test process has its
    own session server set already)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    return temporary_settings({PREFECT_API_URL: url})


# ---- the set-up ------------------------------------------------------------------------------

class Stack:
    """Everything the cases run on, started in order and torn down whatever happened."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.root = settings.root
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.procs = Procs(self.root / "logs")
        self.hosts, self.cluster = Hosts(HOSTS), Cluster()
        self.namespace = f"ha{uuid.uuid4().hex[:8]}"
        self.db: Database | None = None
        self.providers: Providers | None = None
        self.prefect: Prefect | None = None
        self.worker_names: dict[str, list[str]] = {}  # host → its clarion workers
        self.runs = 0  # campaigns run so far

    def __enter__(self) -> Stack:
        try:
            self.build()
        except BaseException:
            self.s.keep = True
            self.teardown()
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.s.keep = self.s.keep or exc_type is not None
        self.teardown()

    def build(self) -> None:
        missing = missing_capabilities()
        if missing:
            raise RuntimeError("the drill needs " + ", ".join(missing))
        say("hosts, PostgreSQL access, RabbitMQ cluster")
        self.hosts.up()
        self.cluster.start()
        self.db = Database()
        self.providers = Providers()
        self.env = self.clarion_env()
        self.prepare_database()
        asyncio.run(self.declare_on_node_1())
        say("Prefect server, work pool, deployment, lost-run automation")
        self.prefect = Prefect(self.root, self.procs, free_port())
        self.prefect.start(self.s.lost_run_after_s, self.env)
        self._saved_env = {k: os.environ.get(k) for k in self.prefect.env}
        os.environ.update({k: v for k, v in self.prefect.env.items()})
        say("clarion workers on hosts " + ", ".join(HOSTS) + "; Prefect workers on "
            + ", ".join(PREFECT_HOSTS))
        for host in HOSTS:
            for i in range(self.s.workers_per_host):
                self.start_worker(host, i)
        for host in PREFECT_HOSTS:
            self.prefect.start_worker(host, self.env)

    def clarion_env(self) -> dict[str, str]:
        assert self.db and self.providers
        return {
            "CLARION_DATABASE_URL": self.db.url,
            "CLARION_BROKER_URL": self.cluster.urls(f"heartbeat={self.s.broker_heartbeat_s}"),
            "CLARION_QUEUE_TYPE": "quorum", "CLARION_BROKER_NAMESPACE": self.namespace,
            "CLARION_CHANNELS": json.dumps(self.providers.channels),
            "CLARION_DATA_DIR": str(self.root / "var"),
            "CLARION_RETRY_DELAYS": "[1, 2, 5, 10, 30]",
            "CLARION_APPROVAL": "off",  # the drill is of the parts, not of the approver
            "DO_NOT_TRACK": "1",
        }

    def prepare_database(self) -> None:
        """Migrate, load a campus, and a site without duplicate windows, caps or quiet hours
        (every drill sends the same alert to the same people again)."""
        from clarion.demo.campus import write_campus_csv
        from clarion.directory import import_csv
        from clarion.store.db import Store
        assert self.db
        store = Store(self.db.url)
        import_csv(store, write_campus_csv(self.root / "campus.csv", self.s.recipients))
        with store.connect() as conn:
            conn.exec_driver_sql("UPDATE categories SET quiet_hours = NULL, cap_per_day = NULL, "
                                 "cap_per_week = NULL, dedup_window_s = NULL")
        store.engine.dispose()

    async def declare_on_node_1(self) -> None:
        """The topology, declared through node 1 only: the leader of every queue starts there
        (the worst case for losing a node)."""
        from clarion.broker.amqp import AsyncAmqp
        from clarion.broker.topology import declare
        from clarion.settings import Settings as ClarionSettings
        first = self.env["CLARION_BROKER_URL"].split(",")[0]
        settings = ClarionSettings(broker_url=first, broker_namespace=self.namespace,
                                   queue_type="quorum")
        conn = await AsyncAmqp.connect(first)
        try:
            await declare(conn, settings, CHANNELS)
        finally:
            await conn.close()

    def start_worker(self, host: str, i: int) -> None:
        name = f"worker-{host}{i}"
        self.procs.start(name, [sys.executable, "-m", "clarion.cli.main", "worker",
                                "--channels", ",".join(CHANNELS), "--log-level", "INFO"],
                         self.env, host=host)
        self.procs.wait_log(name, "consuming", timeout=120)
        if name not in self.worker_names.setdefault(host, []):
            self.worker_names[host].append(name)

    def teardown(self) -> None:
        say("tearing down")
        steps: list[tuple[str, Callable[[], None]]] = [
            ("processes", self.procs.stop_all),
            ("providers", lambda: self.providers and self.providers.close()),
            ("database schema", lambda: self.db and self.db.drop()),
            ("RabbitMQ cluster", self.cluster.stop),
            ("hosts", self.hosts.down)]
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - tear down the rest whatever happens
                say(f"cleaning up {what} failed: {exc}")
        for key, value in getattr(self, "_saved_env", {}).items():  # the process's own again
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self.s.keep:
            say(f"logs kept in {self.root / 'logs'}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- between cases: everything back up -------------------------------------------------

    def heal(self) -> None:
        for n in Cluster.NODES:
            self.cluster.start_node(n)  # a no-op for a running node
        self.hosts.mend(CUT_HOST)
        for host, names in self.worker_names.items():
            for name in names:
                proc = self.procs.running.get(name)
                if proc is None or proc.poll() is not None:
                    self.start_worker(host, int(name[-1]))
        assert self.prefect
        for host in PREFECT_HOSTS:
            proc = self.procs.running.get(f"prefect-worker-{host}")
            if proc is None or proc.poll() is not None:
                self.prefect.start_worker(host, self.env)

    def lane_leaders(self) -> dict[str, int]:
        """The campaign's urgent lanes (single and bundles) → the node leading each."""
        from clarion.broker.names import Names
        names = Names(self.namespace)
        wanted = {names.queue(c, "urgent", k) for c in CHANNELS for k in ("single", "bulk")}
        ask = next(n for n in Cluster.NODES if self.node_running(n))
        return {q: n for q, n in self.cluster.leaders(self.namespace + ".", ask).items()
                if q in wanted}

    def node_running(self, n: int) -> bool:
        done = subprocess.run([str(REPO / "scripts/rabbitmq-cluster.sh"), "ctl", str(n), "-q",
                               "ping"], capture_output=True, timeout=60)
        return done.returncode == 0


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind((BRIDGE, 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- one campaign, watched ---------------------------------------------------------------------

@dataclass
class Progress:
    t: float  # seconds since the campaign was started
    created: int
    final: int


class Campaign:
    """One emergency campaign started through the deployment, and its progress in the
    database of record."""

    def __init__(self, stack: Stack, label: str):
        from clarion.domain import CampaignRequest, campaign_id_for
        self.stack, self.label = stack, label
        request = json.loads(EMERGENCY.read_text())
        request.update(idempotency_key=f"drill-{stack.namespace}-{label}",
                       name=f"Drill: {label}", variables={"building": f"the Library ({label})"})
        self.request = request
        self.id = campaign_id_for(CampaignRequest.model_validate(request).campaign_key())
        self.expected = stack.s.recipients * len(CHANNELS)
        self.progress: list[Progress] = []
        self.flow_run_id: Any = None
        self.t0 = 0.0

    def start(self) -> None:
        from prefect.deployments import run_deployment
        assert self.stack.providers
        self.mark = self.stack.providers.mark()
        self.t0 = time.time()
        with prefect_api(self.stack.prefect.api):  # the drill's server, whatever this
            run = run_deployment("broadcast/broadcast", timeout=0,  # process was set to
                                 parameters={"request": self.request, "wait": True})
        self.flow_run_id = run.id

    def now(self) -> float:
        return time.time() - self.t0

    def poll(self) -> Progress:
        assert self.stack.db
        rows = self.stack.db.query("SELECT status, count(*) FROM deliveries "
                                   "WHERE campaign_id = :c GROUP BY status", c=self.id)
        created = sum(n for _, n in rows)
        final = sum(n for s, n in rows if s not in OPEN)
        p = Progress(round(self.now(), 2), created, final)
        self.progress.append(p)
        return p

    def done(self, p: Progress) -> bool:
        return p.created >= self.expected and p.final == p.created

    def resumed_after(self, t: float, share: float = 0.01) -> float | None:
        """Seconds from ``t`` until the final count grew by ``share`` of the campaign past
        its value at ``t`` (progress resumed), or None."""
        before = next((p.final for p in reversed(self.progress) if p.t <= t), 0)
        step = max(1, int(self.expected * share))
        after = next((p for p in self.progress if p.t > t and p.final >= before + step), None)
        if after is None:
            return 0.0 if before >= self.expected else None
        return round(after.t - t, 2)

    def flow_run(self) -> Any:
        from prefect.client.orchestration import get_client
        with prefect_api(self.stack.prefect.api), get_client(sync_client=True) as client:
            return client.read_flow_run(self.flow_run_id)


# ---- faults ----------------------------------------------------------------------------------

class Fault:
    """A fault: ``due`` says when (given the campaign's progress), ``inject`` breaks
    something (returning what it did), ``recovered`` measures once the campaign is final."""

    name = "none"
    share = 0.25  # due once this share of the campaign is final
    before_start = False  # injected before the campaign starts, not during it
    after: "Fault | None" = None  # in a combined run: not before this one has been fired …
    gap_s = 10.0  # … this long ago

    def __init__(self, stack: Stack, campaign: Campaign):
        self.stack, self.c = stack, campaign
        self.at: float | None = None  # seconds into the campaign (0: before it started)
        self.fired = 0.0  # wall clock
        self.facts: dict[str, Any] = {}

    def since(self) -> float:
        return round(time.time() - self.fired, 2)

    def due(self, p: Progress) -> bool:
        return p.final >= self.share * self.c.expected and self.previous_done()

    def previous_done(self) -> bool:
        return self.after is None or bool(
            self.after.fired and time.time() - self.after.fired >= self.gap_s)

    def inject(self) -> None:
        raise NotImplementedError

    def recovered(self) -> dict[str, Any]:
        return {"final_at_fault": self.final_at_fault,
                "progress_resumed_s": self.c.resumed_after(self.at or 0)}

    def fire(self) -> None:
        self.fired = time.time()
        self.at = round(self.c.now(), 2) if self.c.t0 else 0.0
        last = self.c.progress[-1] if self.c.progress else Progress(0, 0, 0)
        self.final_at_fault = last.final
        say(f"{self.c.label}: {self.name} at {self.at}s")
        self.inject()


class LeaderNodeStop(Fault):
    """Stop the node that leads the campaign's urgent lanes; it stays down until the end."""

    name = "stop the RabbitMQ node leading the urgent lanes"

    def inject(self) -> None:
        leaders = self.stack.lane_leaders()
        node = Counter(leaders.values()).most_common(1)[0][0]
        t = time.time()
        self.stack.cluster.stop_node(node)
        self.facts.update(node=node, leaders_before=leaders,
                          stop_took_s=round(time.time() - t, 2))
        self.watcher = threading.Thread(target=self._watch_leaders, args=(node,), daemon=True)
        self.watcher.start()

    def _watch_leaders(self, stopped: int) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            leaders = self.stack.lane_leaders()
            if leaders and stopped not in leaders.values():
                self.facts["leaders_moved_s"] = self.since()
                self.facts["leaders_after"] = leaders
                return
            time.sleep(0.5)

    def recovered(self) -> dict[str, Any]:
        self.watcher.join(65)
        return {**super().recovered(), "leaders_moved_s": self.facts.get("leaders_moved_s")}


class LinkCut(Fault):
    """Take worker host c's link down for ``cut_s`` seconds, then bring it back."""

    name = f"cut worker host {CUT_HOST}'s link"
    share = 0.0  # alone: at host c's first provider call

    def due(self, p: Progress) -> bool:
        """While host c waits for a provider's answer (the worst moment: what it sent
        arrives, the answer never reaches it)."""
        assert self.stack.providers
        return (self.previous_done() and p.final >= self.share * self.c.expected
                and self.stack.providers.calling_from(Hosts.address(CUT_HOST)))

    def inject(self) -> None:
        names = self.stack.worker_names[CUT_HOST]
        self.log_marks = {n: len(self.stack.procs.log(n)) for n in names}
        self.stack.hosts.cut(CUT_HOST)
        self.timer = threading.Timer(self.stack.s.cut_s, self._mend)
        self.timer.start()

    def _mend(self) -> None:
        self.stack.hosts.mend(CUT_HOST)
        mended = time.time()
        for name, mark in self.log_marks.items():
            try:
                self.stack.procs.wait_log(name, "consuming", timeout=90, after=mark)
                self.facts.setdefault("host_back_s", []).append(round(time.time() - mended, 2))
            except RuntimeError as exc:
                self.facts["host_back_error"] = str(exc)[-300:]

    def recovered(self) -> dict[str, Any]:
        self.timer.join()
        while self.timer.is_alive() or ("host_back_s" not in self.facts
                                        and "host_back_error" not in self.facts):
            time.sleep(0.2)
        back = self.facts.get("host_back_s") or [None]
        return {**super().recovered(), "link_down_s": self.stack.s.cut_s,
                "host_consuming_again_after_mend_s": max(b for b in back if b is not None)
                if any(b is not None for b in back) else None}


class PostgresRestart(Fault):
    """``pg_ctlcluster … restart`` of the machine's PostgreSQL (a few seconds: other users
    of this PostgreSQL see their connections closed too)."""

    name = "restart PostgreSQL"

    def inject(self) -> None:
        version, cluster = pg_cluster()
        t = time.time()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster,
                        "restart"], check=True, capture_output=True, timeout=120)
        self.facts["restart_took_s"] = round(time.time() - t, 2)

    def recovered(self) -> dict[str, Any]:
        return {**super().recovered(), "postgres_restart_took_s": self.facts["restart_took_s"]}


def pg_cluster() -> tuple[str, str]:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        version, name, port, *_ = line.split()
        if port == "5432":
            return version, name
    raise RuntimeError("no PostgreSQL cluster on port 5432")


class PrefectWorkerKill(Fault):
    """SIGKILL the Prefect worker that runs the campaign's flow (the fan-out), with the flow
    run it started; the lost-run automation reschedules it on the other host's worker."""

    name = "SIGKILL the Prefect worker running the fan-out"

    share = 0.0  # of the deliveries created: the fan-out must be under way, not over

    def due(self, p: Progress) -> bool:
        return (max(1, self.share * self.c.expected) <= p.created < 0.7 * self.c.expected
                and self._runner() is not None)

    def _runner(self) -> str | None:
        """The host whose Prefect worker runs this campaign's flow run."""
        import psutil
        for host in PREFECT_HOSTS:
            proc = self.stack.procs.running.get(f"prefect-worker-{host}")
            if proc is None:
                continue
            try:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    if child.environ().get("PREFECT__FLOW_RUN_ID") == str(self.c.flow_run_id):
                        return host
            except psutil.Error:
                continue
        return None

    def inject(self) -> None:
        host = self._runner()
        assert host is not None
        self.facts["host"] = host
        self.facts["created_at_kill"] = self.c.progress[-1].created
        self.facts["pids"] = self.stack.procs.kill_tree(f"prefect-worker-{host}")
        self.watcher = threading.Thread(target=self._watch_run, daemon=True)
        self.watcher.start()

    def _watch_run(self) -> None:
        """When the flow run was rescheduled and when it ran again."""
        deadline = time.time() + 240
        while time.time() < deadline and "running_again_s" not in self.facts:
            state = self.c.flow_run().state
            since = self.since()
            if state.name == "Rescheduled" and "rescheduled_s" not in self.facts:
                self.facts["rescheduled_s"] = since
            if state.is_running() and "rescheduled_s" in self.facts:
                self.facts["running_again_s"] = since
            time.sleep(0.5)

    def recovered(self) -> dict[str, Any]:
        self.watcher.join(250)
        created = self.facts["created_at_kill"]
        grew = next((p.t for p in self.c.progress if p.created > created), None)
        return {**super().recovered(),
                "flow_run_rescheduled_s": self.facts.get("rescheduled_s"),
                "flow_run_running_again_s": self.facts.get("running_again_s"),
                "fan_out_resumed_s": round(grew - (self.at or 0), 2) if grew else None,
                "created_at_kill": created, "killed_host": self.facts["host"]}


class LeaderDownBeforeStart(LeaderNodeStop):
    """The urgent lanes' leader node is stopped before the campaign is started."""

    name = "the urgent lanes' leader node stopped before the start"
    before_start = True


FAULTS: dict[str, list[type[Fault]]] = {
    "baseline": [],
    "rabbit-leader": [LeaderNodeStop],
    "link-cut": [LinkCut],
    "postgres": [PostgresRestart],
    "prefect-kill": [PrefectWorkerKill],
    "leader-down-before-start": [LeaderDownBeforeStart],
    "combined": [PrefectWorkerKill, LeaderNodeStop, PostgresRestart, LinkCut],
}
# the combined run, in order: the fan-out's worker killed once 30% is created (the fan-out
# then waits for the rescheduled run), the leader node stopped at 15% final, PostgreSQL
# restarted at 40% (after the fan-out resumed) and the link cut at 60%, each at least
# ``gap_s`` after the one before
COMBINED_AT = {PrefectWorkerKill: 0.3, LeaderNodeStop: 0.15, PostgresRestart: 0.4, LinkCut: 0.6}


def run_case(stack: Stack, case: str) -> dict[str, Any]:
    """One campaign with the faults of ``case``; what it measured."""
    stack.heal()
    stack.runs += 1
    campaign = Campaign(stack, f"{case}-{stack.runs}")
    faults = [cls(stack, campaign) for cls in FAULTS[case]]
    if case == "combined":  # one after the other, in the same campaign
        for before, f in zip([None, *faults], faults):
            f.share, f.after = COMBINED_AT[type(f)], before
    for fault in faults:
        if fault.before_start:
            fault.fire()
    campaign.start()
    ended = watch(campaign, [f for f in faults if not f.before_start])
    return measure(stack, campaign, faults, ended)


def watch(campaign: Campaign, pending: list[Fault]) -> bool:
    """Poll the campaign, firing each fault when it is due, until every delivery is final
    (True) or the time is up (False)."""
    deadline = time.time() + campaign.stack.s.campaign_timeout_s
    checked = time.time()
    while time.time() < deadline:
        p = campaign.poll()
        for fault in [f for f in pending if f.due(p)]:
            pending.remove(fault)
            fault.fire()
        if not pending and campaign.done(p):
            return True
        if time.time() - checked > 3:
            checked = time.time()
            flow_not_failed(campaign)
        time.sleep(0.1 if pending else 0.25)
    return False


def flow_not_failed(campaign: Campaign) -> None:
    """A flow run that failed (bad input, say) will never finish the campaign: stop here."""
    state = campaign.flow_run().state
    if state.is_final() and not state.is_completed():
        raise RuntimeError(f"flow run {campaign.flow_run_id} ended {state.name}: "
                           f"{state.message}")


def measure(stack: Stack, campaign: Campaign, faults: list[Fault], ended: bool
            ) -> dict[str, Any]:
    """Deliveries, lost, duplicates (and what bounds them), recovery, total time."""
    assert stack.db and stack.providers
    total_s = campaign.progress[-1].t if ended else None
    recovery = {f.name: {"at_s": f.at, **f.recovered()} for f in faults}
    wait_flow_end(campaign)
    by_channel = channel_counts(stack.db, campaign.id)
    arrived = stack.providers.arrived_since(campaign.mark)
    duplicates = {ch: len(a) - len(set(a)) for ch, a in arrived.items()}
    sent = {ch: by_channel.get(ch, {}).get("sent", 0) for ch in CHANNELS}
    final = sum(n for by in by_channel.values() for s, n in by.items() if s not in OPEN)
    never_arrived = {ch: sent[ch] - len(set(arrived[ch])) for ch in arrived}
    return {
        "case": campaign.label, "recipients": stack.s.recipients,
        "deliveries": campaign.expected, "final": final, "all_final": ended,
        "lost": campaign.expected - final + sum(max(0, n) for n in never_arrived.values()),
        "sent_not_at_provider": never_arrived, "counts": by_channel,
        "duplicates": duplicates, "duplicates_total": sum(duplicates.values()),
        **bounds(stack.db, campaign.id), "inbox_rows": inbox_rows(stack.db, campaign.id),
        "faults": recovery, "total_s": total_s,
        "campaign_status": campaign_status(stack.db, campaign.id),
        "flow_run": flow_summary(campaign), "progress": [
            (p.t, p.created, p.final) for p in campaign.progress[::4]],
    }


def wait_flow_end(campaign: Campaign, timeout: float = 120) -> None:
    """The flow marks the campaign completed once it has seen every delivery final."""
    deadline = time.time() + timeout
    while time.time() < deadline and not campaign.flow_run().state.is_final():
        time.sleep(0.5)


def channel_counts(db: Database, campaign_id: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in db.query(
            "SELECT channel, status, count(*) FROM deliveries WHERE campaign_id = :c "
            "GROUP BY channel, status", c=campaign_id):
        out.setdefault(channel, {})[status] = n
    return out


def bounds(db: Database, campaign_id: str) -> dict[str, int]:
    """What can send a delivery twice: a takeover (its message came back while it was
    ``sending``: the holder was lost mid-send) or a retry after a failed attempt."""
    (takeovers, retries), = db.query(
        "SELECT count(*) FILTER (WHERE e.reason = 'redelivered'), "
        "count(*) FILTER (WHERE e.status = 'queued' AND e.reason LIKE 'retry in%') "
        "FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id "
        "WHERE d.campaign_id = :c AND d.channel IN ('sms', 'wecom')", c=campaign_id)
    return {"takeovers": takeovers, "retries": retries}


def inbox_rows(db: Database, campaign_id: str) -> int:
    (n,), = db.query("SELECT count(*) FROM inbox_messages i JOIN deliveries d "
                     "ON d.id = i.delivery_id WHERE d.campaign_id = :c", c=campaign_id)
    return n


def campaign_status(db: Database, campaign_id: str) -> str | None:
    rows = db.query("SELECT status FROM campaigns WHERE id = :c", c=campaign_id)
    return rows[0][0] if rows else None


def flow_summary(campaign: Campaign) -> dict[str, Any]:
    run = campaign.flow_run()
    return {"state": run.state.name, "run_count": run.run_count}


# ---- the command -----------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The high-availability drill (run as root).")
    p.add_argument("--recipients", type=int, default=20_000,
                   help="campus size; each campaign is 3 deliveries per person (default 20000)")
    p.add_argument("--cases", default="baseline,rabbit-leader,link-cut,postgres,prefect-kill,"
                   "leader-down-before-start,combined", help="comma-separated, in order")
    p.add_argument("--workers-per-host", type=int, default=1)
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in FAULTS]
    if unknown:
        raise SystemExit(f"unknown cases {unknown}; known: {', '.join(FAULTS)}")
    settings = Settings(recipients=args.recipients, workers_per_host=args.workers_per_host)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                               "settings": {"recipients": args.recipients,
                                            "workers_per_host": args.workers_per_host},
                               "loadavg_before": os.getloadavg(), "cases": []}
    t = time.time()
    with Stack(settings) as stack:
        results["setup_s"] = round(time.time() - t, 1)
        for case in cases:
            result = run_case(stack, case)
            results["cases"].append(result)
            stack.s.keep = stack.s.keep or result["lost"] != 0 or not result["all_final"]
            print_case(result)
            if args.out:
                args.out.write_text(json.dumps(results, indent=1, default=str))
    results["loadavg_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))
    return 0 if all(r["lost"] == 0 and r["all_final"] for r in results["cases"]) else 1


def print_case(r: dict[str, Any]) -> None:
    say(f"{r['case']}: {r['deliveries']} deliveries, {r['final']} final, lost {r['lost']}, "
        f"duplicates {r['duplicates']} (takeovers {r['takeovers']}, retries {r['retries']}), "
        f"total {r['total_s']}s, campaign {r['campaign_status']}, flow {r['flow_run']}")
    for name, rec in r["faults"].items():
        say(f"  {name}: {rec}")


if __name__ == "__main__":
    sys.exit(main())
