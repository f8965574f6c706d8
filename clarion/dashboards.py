"""Push the dashboards in ``dashboards/*.json`` into a Grafana through its HTTP API.

For a Grafana without file provisioning (``dashboards/provisioning/``): find or create the
folder by title, then upsert every dashboard by its fixed uid with ``overwrite``, so a second
push updates in place (Grafana bumps the version) and never duplicates anything.
The API token is only ever handed to grafana-client: it is not logged nor put in any error.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaTimeoutError,
    GrafanaUnauthorizedError,
)

log = logging.getLogger(__name__)

DEFAULT_DASHBOARDS_DIR = Path(__file__).resolve().parent.parent / "dashboards"
TIMEOUT_S = 10.0
DATASOURCE_VARIABLE = "datasource"  # every board's panels query ${datasource}


class GrafanaPushError(Exception):
    """Pushing dashboards failed; the message names the Grafana (never its token) and the cause."""


def push_dashboards(grafana_url: str, token: str, folder_title: str = "Clarion",
                    dashboards_dir: str | Path | None = None,
                    datasource_uid: str | None = None) -> list[dict[str, Any]]:
    """Upsert every dashboard JSON of ``dashboards_dir`` into ``folder_title``.

    The boards pick their Prometheus by the ``datasource`` variable (Grafana's default
    Prometheus unless chosen); ``datasource_uid`` makes that data source the boards' default,
    after checking that the Grafana has it.
    Returns one ``{"uid", "title", "version", "status", "url"}`` per dashboard, in file order.
    """
    dashboards = load_dashboards(Path(dashboards_dir or DEFAULT_DASHBOARDS_DIR))
    if datasource_uid:
        dashboards = [with_datasource(d, datasource_uid) for d in dashboards]
    where = _public_url(grafana_url)
    api = _client(grafana_url, token)
    try:
        if datasource_uid:
            _check_datasource(api, datasource_uid, where)
        folder_uid = ensure_folder(api, folder_title)
        return [_upsert(api, dashboard, folder_uid) for dashboard in dashboards]
    except GrafanaUnauthorizedError:
        raise GrafanaPushError(f"Grafana at {where} refused the token (401 Unauthorized)") from None
    except GrafanaClientError as exc:
        raise GrafanaPushError(f"Grafana at {where} rejected the request: "
                               f"{exc.status_code} {_message(exc)}") from None
    except GrafanaTimeoutError:
        raise GrafanaPushError(f"Grafana at {where} did not answer within {TIMEOUT_S:g}s") from None
    except GrafanaException as exc:
        raise GrafanaPushError(f"Grafana at {where} failed: {_message(exc)}") from None
    except niquests.exceptions.RequestException as exc:
        raise GrafanaPushError(f"cannot reach Grafana at {where} ({type(exc).__name__})") from None


def load_dashboards(dashboards_dir: Path) -> list[dict[str, Any]]:
    files = sorted(dashboards_dir.glob("*.json"))
    if not files:
        raise GrafanaPushError(f"no dashboard JSON files in {dashboards_dir}")
    dashboards = []
    for path in files:
        try:
            dashboard = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise GrafanaPushError(f"{path}: not a readable dashboard JSON ({exc})") from None
        if not dashboard.get("uid") or not dashboard.get("title"):
            raise GrafanaPushError(f"{path}: a dashboard needs a fixed 'uid' and a 'title'")
        dashboards.append(dashboard)
    return dashboards


def with_datasource(dashboard: dict[str, Any], uid: str) -> dict[str, Any]:
    """A copy of ``dashboard`` whose ``datasource`` variable starts on the data source ``uid``."""
    copy = json.loads(json.dumps(dashboard))
    for variable in copy.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource" and variable.get("name") == DATASOURCE_VARIABLE:
            variable["current"] = {"selected": True, "text": uid, "value": uid}
    return copy


def _check_datasource(api: GrafanaApi, uid: str, where: str) -> None:
    try:
        found = api.datasource.get_datasource_by_uid(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            raise GrafanaPushError(f"Grafana at {where} has no data source with uid {uid!r}; "
                                   "nothing was pushed") from None
        raise
    if found.get("type") != "prometheus":
        raise GrafanaPushError(f"data source {uid!r} of Grafana at {where} is "
                               f"{found.get('type')!r}, not prometheus; nothing was pushed")


def ensure_folder(api: GrafanaApi, title: str) -> str:
    """The uid of the top-level folder called ``title``, created when missing."""
    for folder in api.folder.get_all_folders():
        if folder.get("title") == title:
            return folder["uid"]
    created = api.folder.create_folder(title, uid=_folder_uid(title))
    log.info("created Grafana folder %r (uid %s)", title, created["uid"])
    return created["uid"]


def _upsert(api: GrafanaApi, dashboard: dict[str, Any], folder_uid: str) -> dict[str, Any]:
    body = {
        "dashboard": {**dashboard, "id": None},  # matched by uid, whatever id Grafana gave it
        "folderUid": folder_uid,
        "overwrite": True,
        "message": "pushed by clarion dashboards push",
    }
    reply = api.dashboard.update_dashboard(body)
    result = {"uid": reply.get("uid", dashboard["uid"]), "title": dashboard["title"],
              "version": reply.get("version"), "status": reply.get("status"),
              "url": reply.get("url")}
    log.info("dashboard %s now at version %s (%s)",
             result["uid"], result["version"], result["status"])
    return result


def _client(grafana_url: str, token: str) -> GrafanaApi:
    parts = urlsplit(grafana_url)
    port = _port(grafana_url)
    if not token:
        raise GrafanaPushError("a Grafana API token is required")
    prefix = parts.path.strip("/")
    return GrafanaApi(auth=token, host=parts.hostname, port=port, protocol=parts.scheme,
                      url_path_prefix=f"{prefix}/" if prefix else "", timeout=TIMEOUT_S)


def _public_url(url: str) -> str:
    """The URL without user info, query or fragment: safe to show."""
    parts = urlsplit(url)
    port = _port(url)
    netloc = f"{parts.hostname}:{port}" if port else parts.hostname
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def _port(url: str) -> int | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise GrafanaPushError("the Grafana URL must look like http(s)://host[:port][/path]")
    return port


def _folder_uid(title: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", title.lower()).strip("-")[:40] or "clarion"


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and response.get("message"):
        return str(response["message"])
    return exc.message
