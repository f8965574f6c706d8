"""``clarion up`` / ``status`` / ``down``: the local platform in one command."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from .common import console, err_console, fail, settings_and_store


def up(workers: int = typer.Option(2, help="worker processes"),
       api: bool = typer.Option(True, help="start the REST API too")) -> None:
    """Start the Prefect server, the deployment server, workers and the API in the
    background (they keep running after this command); print where they answer."""
    from ..stack.up import AlreadyUp, StackError
    from ..stack.up import up as start_stack
    settings, _store = settings_and_store()
    try:
        state = start_stack(settings, workers=workers, with_api=api,
                            say=lambda m: err_console.print(m, highlight=False))
    except AlreadyUp as exc:
        console.print("already running (`clarion down` stops it):")
        state = exc.state
    except StackError as exc:
        from ..stack.down import down as stop_stack
        stop_stack(settings)
        fail(f"the stack did not start, and what had started is stopped again: {exc}", code=1)
    _print_addresses(state)


def _print_addresses(state: Any) -> None:
    table = Table(show_header=True, box=None)
    for col in ("part", "pid", "address"):
        table.add_column(col)
    for p in state.procs:
        table.add_row(p.name, str(p.pid), p.url or "")
    console.print(table)
    server = state.get("prefect-server")
    ui = server.url if server else state.prefect_api
    console.print(f"Prefect UI: [bold]{ui}[/]  (runs, deployments, artifacts)")
    api = state.get("api")
    if api:
        console.print(f"Clarion API: {api.url}  (OpenAPI at {api.url}/docs)")
    console.print(f"logs: {state.root}/logs; `clarion status` shows what runs; "
                  "`clarion down` stops it.")


def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """What runs (PIDs, addresses), queue depths and consumers, paused provider accounts,
    the last campaigns."""
    from ..stack.status import status as read_status
    settings, store = settings_and_store()
    info = read_status(settings, store)
    if as_json:
        print(json.dumps(info, default=str))
        return
    _print_processes(info)
    _print_queues(info["queues"])
    paused = {w: chs for w, chs in info["paused_accounts"].items() if chs}
    console.print("paused accounts: " + ("; ".join(f"{w}: {', '.join(c)}" for w, c in
                                                   paused.items()) or "none"))
    _print_campaigns(info["campaigns"])


def _print_processes(info: dict[str, Any]) -> None:
    if not info["processes"]:
        console.print("nothing started by `clarion up` (run it to start the platform)")
        return
    table = Table(title="processes", box=None)
    for col in ("part", "pid", "state", "address"):
        table.add_column(col)
    for p in info["processes"]:
        table.add_row(p["name"], str(p["pid"]), "running" if p["running"] else
                      "[red]stopped[/]", p["url"] or "")
    console.print(table)


def _print_queues(queues: Any) -> None:
    if isinstance(queues, str):
        console.print(f"queues: {queues}")
        return
    table = Table(title="queues (all lanes of a channel; campaign-runs: the runners')",
                  box=None)
    for col in ("queue", "ready", "consumers"):
        table.add_column(col, justify="left" if col == "queue" else "right")
    for name, q in queues.items():
        table.add_row(name, str(q["ready"]), str(q["consumers"]))
    console.print(table)


def _print_campaigns(rows: list[dict[str, Any]]) -> None:
    table = Table(title="last campaigns", box=None)
    for col in ("campaign", "name", "status", "created", "sent/total"):
        table.add_column(col)
    for c in rows:
        sent = sum(ch["sent"] for ch in c["channels"].values())
        total = sum(ch["total"] for ch in c["channels"].values())
        table.add_row(c["campaign_id"], c["name"], c["status"], c["created_at"][:19],
                      f"{sent}/{total}")
    console.print(table if rows else "no campaigns yet")


def down() -> None:
    """Stop what `clarion up` started (by PID, with their children), nothing else."""
    from ..stack.down import down as stop_stack
    settings, _store = settings_and_store()
    stopped = stop_stack(settings)
    console.print(f"stopped {', '.join(stopped)}" if stopped else
                  "nothing to stop (no stack started by `clarion up` is running)")
