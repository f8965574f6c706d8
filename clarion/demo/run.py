"""``clarion demo``: the Quickstart's main job, a real campaign end to end on one machine.

A sample campus of 2,000 people, local capture servers (SMTP writing .eml files, an HTTP
SMS gateway writing JSON lines), the platform of ``clarion up`` (a Prefect server, the
deployment server, workers, the API) and one notice over email, SMS and the in-app inbox.
Everything lands under ``var/demo`` in the checkout; the platform keeps running afterwards
(the Prefect UI shows the campaign) until ``CLARION_DATA_DIR=var/demo clarion down``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from .processes import free_port

console = Console(soft_wrap=True)  # commands and paths printed whole, to copy
NOTICE = Path(__file__).with_name("notice.json")


def run_demo(people: int = 2000, workers: int = 2, root: Path | None = None,
             scenario: str | None = None) -> int:
    """Run the demo on the platform of ``clarion up`` (under ``root``), and leave it running
    so that the Prefect UI shows the campaign afterwards; ``clarion down`` stops it."""
    root = (root or Path("var/demo")).resolve()
    _fresh(root)
    with _timed("services started"):
        _start_services(root, workers)
    store = _load_campus(root, people)
    if scenario is not None:
        code, flow_run_id = _run_scenario(store, scenario), None
    else:
        _demo_policy(store)
        result = _send_notice(root)
        code, flow_run_id = _verify(root, result, people), result["flow_run_id"]
    _print_next_steps(root, flow_run_id)
    return code


def _fresh(root: Path) -> None:
    """Stop a previous demo's platform (by its recorded PIDs), then start from nothing."""
    from ..settings import load_settings
    from ..stack.down import down
    if root.exists():
        down(load_settings(data_dir=root))
        shutil.rmtree(root)
    root.mkdir(parents=True)


def _capture_services(root: Path) -> tuple[list[Any], dict[str, str]]:
    from ..stack.services import Service, logged
    sms, smtp = free_port(9300), free_port(2525)
    capture = [sys.executable, "-u", "-m", "clarion.demo.capture"]
    parts = [Service("sms-gateway", [*capture, "sms", "--port", str(sms), "--out",
                                     str(root / "sms.jsonl")], logged("ready "),
                     f"http://127.0.0.1:{sms}/send"),
             Service("smtp-capture", [*capture, "smtp", "--port", str(smtp), "--dir",
                                      str(root / "mail")], logged("ready "),
                     f"smtp://127.0.0.1:{smtp}")]
    env = {"CLARION_DATA_DIR": str(root), "CLARION_SMS_GATEWAY_URL": parts[0].url or "",
           "CLARION_SMTP_URL": parts[1].url or "", "CLARION_BROKER_NAMESPACE": "clarion-demo",
           "CLARION_APPROVAL": "off"}  # the demo's safety alert needs no approver
    return parts, env


def _start_services(root: Path, workers: int) -> None:
    from ..settings import get_settings
    from ..stack.up import up
    parts, env = _capture_services(root)
    os.environ.update(env)
    for key in ("PREFECT_API_URL", "PREFECT_HOME"):  # the demo's own Prefect server
        os.environ.pop(key, None)
    get_settings.cache_clear()
    state = up(get_settings(), workers=workers, extra=parts,
               say=lambda m: console.print(m, highlight=False))
    os.environ["PREFECT_API_URL"] = state.prefect_api or ""
    server = state.get("prefect-server")
    console.print(f"[green]✓[/] Prefect server at {server.url if server else state.prefect_api}"
                  f", SMS gateway {env['CLARION_SMS_GATEWAY_URL']}, SMTP "
                  f"{env['CLARION_SMTP_URL']}, {workers} workers, the deployment server, "
                  "the API")


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
    """Check what the capture servers received (the CLI printed the table already)."""
    emails = len(list((root / "mail").glob("*.eml")))
    sms_ids = {json.loads(line)["id"] for line in (root / "sms.jsonl").read_text().splitlines()
               if line.strip()}
    console.print(f"  {result['status']} in {result['seconds']} s from the CLI call\n"
                  f"  {emails} .eml files in {root / 'mail'}\n"
                  f"  {len(sms_ids)} distinct SMS ids in {root / 'sms.jsonl'}\n"
                  f"  records: {root / 'clarion.db'} (SQLite) — try\n"
                  f"    CLARION_DATA_DIR={root} .venv/bin/clarion trace --recipient S000001")
    ok = (emails == people and len(sms_ids) == people
          and all(c["sent"] == people for c in result["channels"].values()))
    console.print("[bold green]demo OK[/]" if ok else "[bold red]demo FAILED[/]")
    return 0 if ok else 1


def _print_next_steps(root: Path, flow_run_id: str | None) -> None:
    """Where to look now (the flow run in the Prefect UI) and how to stop the platform."""
    from ..settings import load_settings
    from ..stack.state import load
    state = load(load_settings(data_dir=root))
    server = state.get("prefect-server") if state else None
    if server is not None:
        where = f"{server.url}/runs/flow-run/{flow_run_id}" if flow_run_id else server.url
        console.print("Next: the campaign's flow run, its tasks and its summary artifact in "
                      f"the Prefect UI:\n  {where}")
    console.print("The platform keeps running (`clarion status` shows it); stop it with\n"
                  f"  CLARION_DATA_DIR={root} .venv/bin/clarion down")
