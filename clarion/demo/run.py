"""``clarion demo``: the Quickstart's main job, a real campaign end to end on one machine.

A sample campus of 2,000 people, local capture servers (SMTP writing .eml files, an HTTP
SMS gateway writing JSON lines), a local Prefect server, worker processes, and one notice
over email, SMS and the in-app inbox.  Everything lands under ``var/demo`` in the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from .processes import Processes, free_port

console = Console()
NOTICE = Path(__file__).with_name("notice.json")


def run_demo(people: int = 2000, workers: int = 2, root: Path | None = None,
             scenario: str | None = None) -> int:
    root = (root or Path("var/demo")).resolve()
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    procs = Processes(root / "logs")
    try:
        with _timed("services started"):
            _start_services(procs, root, workers)
        store = _load_campus(root, people)
        if scenario is not None:
            return _run_scenario(store, scenario)
        _demo_policy(store)
        summary = _send_notice(root)
        return _verify(root, summary, people)
    finally:
        console.print("stopping workers, capture servers and the Prefect server …")
        with _timed("stopped"):
            procs.stop_all()


def _start_services(procs: Processes, root: Path, workers: int) -> dict[str, str]:
    py = sys.executable
    sms_url = procs.start_ready("sms-gateway", ["-m", "clarion.demo.capture", "sms", "--port", "0",
                                                "--out", str(root / "sms.jsonl")])
    smtp_url = procs.start_ready("smtp", ["-m", "clarion.demo.capture", "smtp", "--port", "0",
                                          "--dir", str(root / "mail")])
    env = {"CLARION_DATA_DIR": str(root), "CLARION_SMS_GATEWAY_URL": sms_url,
           "CLARION_SMTP_URL": smtp_url, "CLARION_BROKER_NAMESPACE": "clarion-demo",
           "CLARION_APPROVAL": "off"}  # the demo's safety alert needs no approver
    os.environ.update(env)
    _start_prefect(procs, root)
    for i in range(workers):
        procs.start(f"worker-{i}", [py, "-m", "clarion.cli.main", "worker",
                                    "--metrics-port", str(free_port(9101 + i))])
    console.print(f"[green]✓[/] SMS gateway {sms_url}, SMTP {smtp_url}, {workers} workers")
    return env


def _start_prefect(procs: Processes, root: Path) -> None:
    home = root / "prefect"
    port = free_port(4200)
    os.environ.update({"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "DO_NOT_TRACK": "1"})
    os.environ.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    procs.start("prefect-server", [prefect, "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)])
    api = f"http://127.0.0.1:{port}/api"
    procs.wait_http("prefect-server", f"{api}/health")
    os.environ["PREFECT_API_URL"] = api
    console.print(f"[green]✓[/] Prefect server at http://127.0.0.1:{port}")


def _load_campus(root: Path, people: int):  # type: ignore[no-untyped-def]
    from ..demo.campus import write_campus_csv
    from ..directory import import_csv
    from ..settings import get_settings
    from ..store.db import store_for
    get_settings.cache_clear()
    path = write_campus_csv(root / "campus.csv", people)
    store = store_for(get_settings().db_url)
    report = import_csv(store, path)
    console.print(f"[green]✓[/] sample campus: {report.loaded} people from {path}")
    return store


def _run_scenario(store, name: str) -> int:  # type: ignore[no-untyped-def]
    import asyncio

    from ..settings import get_settings
    from . import scenario
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # before Prefect is imported
    ok = asyncio.run(scenario.run(store, get_settings(), name))
    console.print(f"[bold green]scenario {name} OK[/]" if ok else
                  f"[bold red]scenario {name} FAILED[/]")
    return 0 if ok else 1


def _demo_policy(store) -> None:  # type: ignore[no-untyped-def]
    """The notice is a campus notice, and campus notices keep quiet hours (22:00-07:30 in
    each person's time zone): without them here, the demo delivers whatever the hour."""
    from ..planning import config
    campus = next(c for c in config.list_categories(store) if c.name == "campus")
    config.set_category(store, campus.model_copy(update={"quiet_hours": None}), "demo")
    console.print("[green]✓[/] demo policy: campus notices without quiet hours "
                  "(as `clarion category set campus --quiet-hours none`)")


def _timed(label: str):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def timer():  # type: ignore[no-untyped-def]
        started = time.time()
        yield
        console.print(f"  [dim]{label}: {time.time() - started:.1f} s[/]")
    return timer()


def _send_notice(root: Path) -> dict:
    """Send the notice the way staff would: ``clarion campaign send --wait``."""
    import subprocess

    from .. import campaigns
    from ..domain import CampaignRequest, campaign_id_for
    from ..settings import get_settings
    from ..store.db import store_for
    request = CampaignRequest.model_validate_json(NOTICE.read_text())
    request = request.model_copy(update={"idempotency_key": f"demo-{int(time.time())}"})
    path = root / "notice.json"
    path.write_text(request.model_dump_json(indent=2, exclude_none=True))
    console.print(f"broadcasting “{request.name}” over {', '.join(request.channels)}:\n"
                  f"  clarion campaign send --request {path} --wait")
    started = time.time()
    clarion = str(Path(sys.executable).with_name("clarion"))
    subprocess.run([clarion, "campaign", "send", "--request", str(path), "--wait"], check=False,
                   env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})
    result = campaigns.get(store_for(get_settings().db_url),
                           campaign_id_for(request.campaign_key()))
    result["seconds"] = round(time.time() - started, 1)
    (root / "result.json").write_text(json.dumps(result, indent=2))
    return result


def _verify(root: Path, result: dict, people: int) -> int:
    from rich.table import Table
    table = Table(title=f"campaign {result['campaign_id']} — {result['status']} "
                        f"in {result['seconds']} s")
    for col in ("channel", "sent", "failed", "skipped", "deferred", "open"):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for channel, c in sorted(result["channels"].items()):
        table.add_row(channel, *(str(c[k]) for k in ("sent", "failed", "skipped", "deferred",
                                                     "open")))
    console.print(table)
    emails = len(list((root / "mail").glob("*.eml")))
    sms_ids = {json.loads(line)["id"] for line in (root / "sms.jsonl").read_text().splitlines()
               if line.strip()}
    console.print(f"  {emails} .eml files in {root / 'mail'}\n"
                  f"  {len(sms_ids)} distinct SMS ids in {root / 'sms.jsonl'}\n"
                  f"  records: {root / 'clarion.db'} (SQLite) — try\n"
                  f"    CLARION_DATA_DIR={root} .venv/bin/clarion trace --recipient S000001\n"
                  f"  Prefect run history: PREFECT_HOME={root / 'prefect'} "
                  f".venv/bin/prefect server start, then http://127.0.0.1:4200")
    ok = (emails == people and len(sms_ids) == people
          and all(c["sent"] == people for c in result["channels"].values()))
    console.print("[bold green]demo OK[/]" if ok else "[bold red]demo FAILED[/]")
    return 0 if ok else 1
