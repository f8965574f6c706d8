"""``clarion campaign send|status|cancel``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import campaigns
from ..domain import CampaignRequest
from ..settings import Settings
from .common import (console, describe_validation, err_console, fail, read_json,
                     settings_and_store)

if TYPE_CHECKING:  # pika comes with the runner's client: imported by `send` alone
    from ..runner.client import HandedRun, LocalRun

app = typer.Typer(help="Start, follow and cancel campaigns.", no_args_is_help=True)


def record(store, action: str, target: str | None, outcome: str,  # type: ignore[no-untyped-def]
           detail: str) -> None:
    """An audit entry for this CLI action (clarion.api is imported only when needed)."""
    from ..api import audit
    audit.record(store, action, target, outcome, detail)


def load_request(path: Path) -> CampaignRequest:
    try:
        return CampaignRequest.model_validate(read_json(path))
    except ValidationError as exc:
        fail(f"invalid campaign request: {describe_validation(exc)}")


@app.command("send")
def send(request_file: Path = typer.Option(..., "--request", help="JSON file holding a CampaignRequest"),
         wait: bool = typer.Option(False, "--wait", help="follow until every delivery is final"),
         as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
         timeout: float = typer.Option(3600, help="seconds to wait at most"),
         preview: bool = typer.Option(False, "--preview", help="show what each channel "
                                      "would send a sample recipient, and send nothing"),
         no_runner: bool = typer.Option(False, "--no-runner", help="run the flow in this "
                                        "process even when a campaign runner is up")
         ) -> None:
    """Check a campaign request, then run the broadcast flow for it: in the campaign runner
    of `clarion up` when one is up (warm: the first delivery comes sooner), else in this
    process, against the stack's Prefect server or PREFECT_API_URL (without one, a
    temporary server)."""
    from ..runner.client import RunnerGone
    settings, store = settings_and_store()
    server_chosen = not preview and (no_runner or not _runner_is_up(settings))
    if server_chosen:
        use_prefect_server(settings)  # before Prefect is imported: it reads PREFECT_API_URL
        # Prefect's import is slow: overlap it with the checks. Not a daemon thread: an
        # interpreter that exits (a refusal) while a daemon thread is halfway through
        # importing C extensions can abort (SIGABRT, seen in CI); this one is waited for.
        threading.Thread(target=_import_flow, name="import-prefect").start()
    request = load_request(request_file)
    try:  # refuse bad input before anything exists; "auto": the category suggested now
        prepared = campaigns.prepare(store, settings, request)
    except campaigns.CampaignRejected as exc:
        record(store, "campaign.create", None, "refused", f"{exc.field}: {exc.message}")
        fail(f"campaign refused: {exc.field}: {exc.message}")
    request = prepared.request
    if prepared.advice is not None:
        console.print(f"category {request.category} (suggested: {prepared.advice.reason})")
    if preview:
        _print_preview(campaigns.preview(store, settings, request))
        return
    run = (_run_flow_here(request, wait, timeout) if no_runner else
           _start_flow(settings, request, wait, timeout, server_chosen))
    campaign_id = _await_campaign_id(store, request, run)
    record(store, "campaign.create", campaign_id, "ok", request.name)
    if wait:
        _follow(store, campaign_id, run, quiet=as_json)
    try:
        run.join()
    except RunnerGone as exc:
        fail(f"{exc}; `clarion campaign status {campaign_id}` follows it", code=1)
    if run.error is not None:
        fail(f"the broadcast flow failed: {run.error}", code=1)
    info = campaigns.get(store, campaign_id)
    _print_result(info, as_json)


def _runner_is_up(settings: Settings) -> bool:
    """A campaign runner of a running `clarion up` stack (then Prefect is not imported here)."""
    from ..stack.state import load
    state = load(settings)
    runner = state.get("campaign-runner") if state is not None else None
    return runner is not None and runner.alive()


def _start_flow(settings: Settings, request: CampaignRequest, wait: bool, timeout: float,
                server_chosen: bool) -> LocalRun | HandedRun:
    """Hand the flow to a warm campaign runner if one consumes its queue; else run it here
    (on the Prefect server chosen already, unless a runner was expected)."""
    from ..runner.client import PICKUP_TIMEOUT_S, hand_over
    handed = hand_over(settings, request.model_dump(mode="json"), wait, timeout)
    if handed is not None:
        if handed.started():
            err_console.print(f"the campaign runner (pid {handed.runner_pid}) runs the flow",
                              highlight=False)
            return handed
        err_console.print(f"no campaign runner took the request in {PICKUP_TIMEOUT_S:.0f} s: "
                          "running the flow in this process", highlight=False)
    if not server_chosen:
        use_prefect_server(settings)
    return _run_flow_here(request, wait, timeout)


def use_prefect_server(settings: Settings) -> None:
    """PREFECT_API_URL if set, else the running `clarion up` stack's server; else say
    plainly that Prefect will start a temporary server."""
    import os

    from ..stack.state import running_prefect_api
    if os.environ.get("PREFECT_API_URL"):
        return
    api = running_prefect_api(settings)
    if api:
        os.environ["PREFECT_API_URL"] = api
        return
    err_console.print("no Prefect server is running (`clarion up` starts one, or set "
                      "PREFECT_API_URL): this run starts a temporary Prefect server, which "
                      "takes about 15 s, and its run history is lost when the command ends",
                      highlight=False)


def _print_preview(channels: dict[str, dict[str, Any]]) -> None:
    for channel, item in channels.items():
        how = " (a summary of the body: no text of its own)" if item["derived"] else ""
        sms = item.get("sms")
        size = f" — {sms['length']} characters, {sms['segments']} SMS" if sms else ""
        console.print(f"[bold]{channel}[/]{how}{size}")
        for name, value in item["fields"].items():
            if name != "unsubscribe_url" or value:
                console.print(f"  {name}: {value}", highlight=False)


def _import_flow() -> None:
    import clarion.flows.broadcast  # noqa: F401


def _run_flow_here(request: CampaignRequest, wait: bool, timeout: float) -> LocalRun:
    from ..runner.client import LocalRun

    def target() -> Any:
        import asyncio

        from ..flows.broadcast import broadcast
        return asyncio.run(broadcast(request, wait=wait, timeout_s=timeout))
    return LocalRun(target)


def _await_campaign_id(store, request: CampaignRequest, run: LocalRun | HandedRun) -> str:  # type: ignore[no-untyped-def]
    from ..domain import campaign_id_for
    from ..runner.client import RunnerGone
    campaign_id = campaign_id_for(request.campaign_key())
    try:
        while True:
            try:
                campaigns.get(store, campaign_id)
                return campaign_id
            except campaigns.CampaignNotFound:
                if not run.alive(wait_s=0.05):
                    break
    except RunnerGone as exc:
        fail(str(exc), code=1)
    if run.error is not None:
        fail(f"the broadcast flow failed: {run.error}", code=1)
    return campaign_id


def _follow(store, campaign_id: str, run: LocalRun | HandedRun, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    from ..runner.client import RunnerGone
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet, transient=False) as progress:
        bars: dict[str, Any] = {}
        while True:
            info = campaigns.get(store, campaign_id)
            for channel, c in info["channels"].items():
                if channel not in bars:
                    bars[channel] = progress.add_task(channel, total=c["total"])
                progress.update(bars[channel], total=c["total"], completed=c["total"] - c["open"])
            try:
                if not run.alive(wait_s=0.25):
                    return
            except RunnerGone:
                return  # said by the caller's join


def _print_result(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"campaign_id": info["campaign_id"], "status": info["status"],
                          "channels": info["channels"]}))
        return
    table = Table(title=f"campaign {info['campaign_id']} — {info['status']}")
    columns = ("sent", "failed", "skipped", "deferred", "open", "total")
    table.add_column("channel")
    for col in columns:
        table.add_column(col, justify="right")
    for channel, c in sorted(info["channels"].items()):
        table.add_row(channel, *(str(c.get(k, 0)) for k in columns))
    console.print(table)


@app.command("status")
def status(campaign_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A campaign's state and per-channel counts."""
    _settings, store = settings_and_store()
    try:
        info = campaigns.get(store, campaign_id)
    except campaigns.CampaignNotFound:
        fail(f"no campaign {campaign_id!r}", code=1)
    _print_result(info, as_json)


@app.command("cancel")
def cancel(campaign_id: str) -> None:
    """Cancel a campaign: deliveries not yet sent end skipped (reason: cancelled)."""
    _settings, store = settings_and_store()
    try:
        n = campaigns.cancel(store, campaign_id, actor="cli")
    except campaigns.CampaignNotFound:
        record(store, "campaign.cancel", campaign_id, "refused", "no such campaign")
        fail(f"no campaign {campaign_id!r}", code=1)
    record(store, "campaign.cancel", campaign_id, "ok", f"{n} skipped")
    console.print(f"cancelled {campaign_id}: {n} deliveries skipped")
