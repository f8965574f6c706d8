"""The ``clarion`` command."""

from __future__ import annotations

import logging
from typing import Optional

import typer

from . import (api_cmd, apikey_cmd, campaign_cmd, dashboards_cmd, directory_cmd, models_cmd,
               policy_cmd, stack_cmd, staff_cmd, trace_cmd)
from .common import console, fail, read_json, settings_and_store

app = typer.Typer(help="Clarion: campus notifications over every channel.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(campaign_cmd.app, name="campaign")
app.command("trace")(trace_cmd.trace)
app.add_typer(apikey_cmd.app, name="apikey")
app.command("api")(api_cmd.api)
app.command("up")(stack_cmd.up)
app.command("status")(stack_cmd.status)
app.command("down")(stack_cmd.down)
app.add_typer(directory_cmd.app, name="directory")
app.add_typer(dashboards_cmd.app, name="dashboards")
app.add_typer(models_cmd.app, name="models")
app.add_typer(policy_cmd.category_app, name="category")
app.add_typer(policy_cmd.rules_app, name="rules")
app.add_typer(policy_cmd.preferences_app, name="preferences")
app.add_typer(staff_cmd.app, name="staff")

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
template_app = typer.Typer(help="Stored templates.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(template_app, name="template")




@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema."""
    settings, _store = settings_and_store()
    console.print(f"database at {settings.db_url.split('@')[-1]} is up to date")


@template_app.command("save")
def template_save(name: str, file: str = typer.Argument(..., help="JSON file of variants")) -> None:
    """Store a template: {"default": {"title", "body"}, "email": {"subject", "text", "html"}, …}."""
    from pathlib import Path

    from ..api.audit import record
    from ..content import ContentError, compile_content, save_template
    variants = read_json(Path(file))
    if not isinstance(variants, dict):
        fail("a template file holds an object of variants")
    _settings, store = settings_and_store()
    try:
        compile_content(variants, [k for k in variants if k != "default"] or ["inbox"])
        save_template(store, name, variants)
    except ContentError as exc:
        record(store, "template.save", name, "refused", f"{exc.field}: {exc.message}")
        fail(str(exc))
    record(store, "template.save", name, "ok", f"variants {', '.join(sorted(variants))}")
    console.print(f"template {name!r} saved")


@app.command("worker")
def worker(channels: Optional[str] = typer.Option(None, help="comma-separated channels (default: all configured)"),
           metrics_port: Optional[int] = typer.Option(None, help="serve /metrics on 127.0.0.1:PORT"),
           log_level: str = typer.Option("INFO")) -> None:
    """Consume deliveries and send them (run any number, on any machine)."""
    from ..channels.base import ConfigurationError
    from ..logs import setup_logging
    from ..metrics import serve_metrics
    from ..worker.runner import run_worker
    settings, _store = settings_and_store()
    setup_logging(log_level, settings.log_json)
    port = metrics_port or settings.metrics_port
    if port:
        from ..channels.registry import channel_specs
        from ..ops.collectors import register_collector
        chosen = channels.split(",") if channels else list(channel_specs(settings))
        register_collector(settings, _store, chosen)
        serve_metrics(port)
    try:
        run_worker(settings, channels.split(",") if channels else None)
    except ConfigurationError as exc:
        fail(exc.reason)


@app.command("release")
def release() -> None:
    """Publish the deferred deliveries that are due now (the release-deferred flow's work)."""
    import asyncio

    from ..planning.release import release_due
    settings, store = settings_and_store()
    report = asyncio.run(release_due(store, settings))
    console.print(f"released {report.released} deliveries; "
                  f"{len(report.completed)} campaigns completed")


@app.command("digest")
def digest(category: Optional[str] = typer.Option(None, help="one category (default: all)")
           ) -> None:
    """Send the digests that are due now (the digests flow's work)."""
    import asyncio

    from ..planning.digests import send_digests
    settings, store = settings_and_store()
    report = asyncio.run(send_digests(store, settings, category))
    console.print(f"{report.digests} digests of {report.items} items "
                  f"({', '.join(f'{k}: {v}' for k, v in report.by_category.items()) or '-'})")


@app.command("runner")
def runner(concurrency: int = typer.Option(8, min=1, help="flows run at once"),
           log_level: str = typer.Option("INFO")) -> None:
    """Run the broadcast flows that `campaign send` hands over, in this warm process
    (Prefect imported once; `clarion up` starts one). Run any number, on any machine."""
    import os

    from ..logs import setup_logging
    from ..stack.state import running_prefect_api
    settings, _store = settings_and_store()
    setup_logging(log_level, settings.log_json)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = os.environ.get("PREFECT_API_URL") or running_prefect_api(settings)
    if not api:
        fail("no Prefect server for the flow runs: set PREFECT_API_URL, or run `clarion up` "
             "(which starts a server and a runner)")
    os.environ["PREFECT_API_URL"] = api
    from ..runner.service import serve as serve_runner
    serve_runner(settings, concurrency)


@app.command("serve")
def serve(take_over: bool = typer.Option(
        False, "--take-over",
        help="serve deployments that `prefect deploy` bound to a work pool, moving their "
             "runs from the pool's workers to this process")) -> None:
    """Serve prefect.yaml's deployments (schedules included) from this process, without a
    work pool (the other way: `prefect deploy --all` and a `prefect worker` per machine)."""
    import os
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")  # start runs within ~1 s
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll
    from ..stack.state import running_prefect_api
    api = os.environ.get("PREFECT_API_URL") or running_prefect_api(settings_and_store()[0])
    if not api:
        fail("no Prefect server to serve on: set PREFECT_API_URL, or run `clarion up` "
             "(which starts a server and serves the deployments itself)")
    os.environ["PREFECT_API_URL"] = api
    from ..flows.project import ProjectError
    from ..flows.serve import BoundToWorkPool, serve_deployments
    try:
        serve_deployments(take_over=take_over)
    except ProjectError as exc:
        fail(str(exc))
    except BoundToWorkPool as exc:
        fail(f"not serving: {exc} — `prefect deploy` runs them on that pool's workers. "
             "Stop those workers and run `clarion serve --take-over` to serve them here "
             "instead, or keep them on the pool and don't run `clarion serve`.")


@app.command("demo")
def demo(people: int = typer.Option(2000, help="size of the sample campus"),
         workers: int = typer.Option(2, help="worker processes"),
         scenario: Optional[str] = typer.Option(
             None, help="run a campus scenario instead of the notice: teaching, research, "
                        "events, library or safety (docs/SCENARIOS.md)")) -> None:
    """The Quickstart: a sample campus, local capture servers, workers, one real campaign."""
    from ..demo import scenario as scenarios
    from ..demo.run import run_demo
    if scenario is not None and scenario not in scenarios.names():
        fail(f"--scenario: no scenario {scenario!r}; there are: "
             f"{', '.join(scenarios.names())}")
    raise typer.Exit(run_demo(people=people, workers=workers, scenario=scenario))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    app()
