"""``clarion dashboards``: put the Grafana dashboards of ``dashboards/`` into a Grafana."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from .common import console, fail

app = typer.Typer(help="Grafana dashboards of Clarion.", no_args_is_help=True)


@app.callback()
def dashboards() -> None:
    """Grafana dashboards of Clarion."""


@app.command()
def push(
    url: str = typer.Option(..., "--url", envvar="CLARION_GRAFANA_URL",
                            help="Grafana base URL, e.g. http://127.0.0.1:3000"),
    token: str = typer.Option(..., "--token", envvar="CLARION_GRAFANA_TOKEN",
                              help="Grafana service-account token (Editor or Admin)."),
    folder: str = typer.Option("Clarion", "--folder", help="Folder title, created when missing."),
    dashboards_dir: Optional[Path] = typer.Option(
        None, "--dir",
        help="Folder of dashboard JSON files (default: the repository's dashboards/)."),
    datasource_uid: Optional[str] = typer.Option(
        None, "--datasource-uid", envvar="CLARION_GRAFANA_DATASOURCE_UID",
        help="uid of the Prometheus data source the boards start on (default: Grafana's "
             "default Prometheus; each board can switch with its 'Data source' variable)."),
) -> None:
    """Create or update every dashboard in one Grafana folder (idempotent)."""
    from ..dashboards import GrafanaPushError, push_dashboards  # Grafana's client: ~0.2 s
    try:
        results = push_dashboards(url, token, folder_title=folder, dashboards_dir=dashboards_dir,
                                  datasource_uid=datasource_uid)
    except GrafanaPushError as exc:
        fail(escape(str(exc)), code=1)
    for r in results:
        console.print(f"{r['uid']}: version {r['version']} {r['status']} in folder {folder!r}"
                      f" -> {r['url']}", highlight=False, soft_wrap=True, markup=False)
