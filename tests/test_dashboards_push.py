"""``push_dashboards`` and ``clarion dashboards push`` against a stand-in of Grafana's HTTP API.

The stand-in answers the calls grafana-client makes here (GET/POST /api/folders, POST
/api/dashboards/db) and checks what Grafana checks: the bearer token, a dashboard with uid
and title, an existing folderUid, no silent overwrite, one folder per title.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clarion.cli.dashboards_cmd import app
from clarion.dashboards import GrafanaPushError, push_dashboards

TOKEN = "glsa_test_token_0123456789"
DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"


class FakeGrafana:
    """State of the stand-in: folders by uid, dashboards by uid, every request seen."""

    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {
            "prom-campus": {"id": 7, "uid": "prom-campus", "name": "Campus Prometheus",
                            "type": "prometheus"},
            "loki": {"id": 8, "uid": "loki", "name": "Logs", "type": "loki"}}
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        route = (method, path.split("?")[0])
        if route == ("GET", "/api/folders"):
            return 200, [{"id": f["id"], "uid": f["uid"], "title": f["title"]}
                         for f in self.folders.values()]
        if route == ("POST", "/api/folders"):
            return self.create_folder(body)
        if route == ("POST", "/api/dashboards/db"):
            return self.save_dashboard(body)
        if method == "GET" and route[1].startswith("/api/datasources/uid/"):
            found = self.datasources.get(route[1].rsplit("/", 1)[1])
            return (200, found) if found else (404, {"message": "Data source not found"})
        return 404, {"message": "Not found"}

    def create_folder(self, body: dict[str, Any]) -> tuple[int, Any]:
        title = body.get("title")
        if not title:
            return 400, {"message": "folder title cannot be empty"}
        if any(f["title"] == title for f in self.folders.values()):
            return 409, {"message": "a folder with the same name already exists"}
        uid = body.get("uid") or f"f{self.next_id}"
        if uid in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        folder = {"id": self.new_id(), "uid": uid, "title": title, "version": 1,
                  "url": f"/dashboards/f/{uid}/"}
        self.folders[uid] = folder
        return 200, folder

    def save_dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        dashboard = body.get("dashboard")
        if not isinstance(dashboard, dict) or not (dashboard.get("title") and dashboard.get("uid")):
            return 400, {"message": "Dashboard title cannot be empty", "status": "empty-name"}
        folder_uid = body.get("folderUid")
        if folder_uid not in self.folders:
            return 400, {"message": "folder not found", "status": "folder-not-found"}
        uid = dashboard["uid"]
        existing = self.dashboards.get(uid)
        given_id = dashboard.get("id")
        if given_id is not None and (existing is None or existing["id"] != given_id):
            return 404, {"message": "Dashboard not found", "status": "not-found"}
        if existing is not None and not body.get("overwrite") \
                and dashboard.get("version") != existing["version"]:
            return 412, {"message": "The dashboard has been changed by someone else",
                         "status": "version-mismatch"}
        version = existing["version"] + 1 if existing else 1
        stored = {"id": existing["id"] if existing else self.new_id(), "uid": uid,
                  "version": version, "title": dashboard["title"], "folderUid": folder_uid,
                  "json": dashboard}
        self.dashboards[uid] = stored
        return 200, {"id": stored["id"], "uid": uid, "status": "success", "version": version,
                     "slug": uid, "url": f"/d/{uid}/{uid}"}


def make_handler(grafana: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.respond("GET")

        def do_POST(self) -> None:
            self.respond("POST")

        def respond(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, reply = 401, {"message": "invalid API key"}
            elif method == "POST" and self.headers.get_content_type() != "application/json":
                status, reply = 415, {"message": "content type must be application/json"}
            else:
                with grafana.lock:
                    body = json.loads(raw) if raw else None
                    status, reply = grafana.handle(method, self.path, body)
            payload = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def grafana():
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def test_first_push_creates_the_folder_and_both_dashboards(grafana):
    results = push_dashboards(grafana.url, TOKEN)

    assert [f["title"] for f in grafana.folders.values()] == ["Clarion"]
    folder_uid = next(iter(grafana.folders))
    assert {r["uid"] for r in results} == {"clarion-overview", "clarion-channel"}
    assert all(r["version"] == 1 and r["status"] == "success" for r in results)
    saves = [body for method, path, body in grafana.requests if path == "/api/dashboards/db"]
    assert len(saves) == 2
    for body in saves:
        assert body["overwrite"] is True
        assert body["folderUid"] == folder_uid
        assert body["dashboard"]["uid"] and body["dashboard"]["title"]
        assert body["dashboard"]["id"] is None
        assert body["dashboard"]["panels"]


def test_second_push_updates_in_place(grafana):
    push_dashboards(grafana.url, TOKEN)
    first_ids = {uid: d["id"] for uid, d in grafana.dashboards.items()}

    results = push_dashboards(grafana.url, TOKEN)

    assert len(grafana.folders) == 1
    assert sorted(grafana.dashboards) == ["clarion-channel", "clarion-overview"]
    assert {uid: d["id"] for uid, d in grafana.dashboards.items()} == first_ids
    assert all(r["version"] == 2 for r in results)
    assert [m for m, p, _ in grafana.requests if p == "/api/folders"].count("POST") == 1


def test_push_finds_an_existing_folder_by_title(grafana):
    grafana.folders["abc123"] = {"id": 99, "uid": "abc123", "title": "Ops boards", "version": 1}

    push_dashboards(grafana.url, TOKEN, folder_title="Ops boards")

    assert list(grafana.folders) == ["abc123"]
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {"abc123"}


def test_wrong_token_is_a_clear_error_without_the_token(grafana):
    with pytest.raises(GrafanaPushError) as caught:
        push_dashboards(grafana.url, "wrong-secret-token")

    message = str(caught.value)
    assert "401" in message and grafana.url in message
    assert "wrong-secret-token" not in message
    assert not grafana.folders and not grafana.dashboards


def test_unreachable_grafana_is_a_clear_error():
    url = closed_port_url()
    with pytest.raises(GrafanaPushError, match="cannot reach Grafana at " + url):
        push_dashboards(url, TOKEN)


def test_url_credentials_never_reach_an_error():
    with pytest.raises(GrafanaPushError) as caught:
        push_dashboards("http://admin:hunter2@127.0.0.1:1/", TOKEN)
    assert "hunter2" not in str(caught.value)


def test_a_dashboard_without_uid_is_refused_before_any_request(tmp_path, grafana):
    (tmp_path / "bad.json").write_text(json.dumps({"title": "no uid", "panels": []}))
    with pytest.raises(GrafanaPushError, match="bad.json.*uid"):
        push_dashboards(grafana.url, TOKEN, dashboards_dir=tmp_path)
    assert grafana.requests == []


def test_cli_push_prints_one_line_per_dashboard(grafana):
    runner = CliRunner()
    first = runner.invoke(app, ["push", "--url", grafana.url, "--token", TOKEN])
    second = runner.invoke(app, ["push"], env={"CLARION_GRAFANA_URL": grafana.url,
                                               "CLARION_GRAFANA_TOKEN": TOKEN})

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    lines = second.output.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("clarion-overview: version 2 success") for line in lines)
    assert any(line.startswith("clarion-channel: version 2 success") for line in lines)
    assert TOKEN not in first.output + second.output


def test_cli_reports_a_refused_token_without_traceback(grafana):
    result = CliRunner().invoke(app, ["push", "--url", grafana.url, "--token", "nope-secret"])

    assert result.exit_code == 1
    assert "401" in result.output and "Traceback" not in result.output
    assert "nope-secret" not in result.output
    assert not isinstance(result.exception, GrafanaPushError)


def test_cli_reports_an_unreachable_grafana(grafana):
    url = closed_port_url()
    result = CliRunner().invoke(app, ["push", "--url", url, "--token", TOKEN, "--folder", "X"])

    assert result.exit_code == 1
    assert f"cannot reach Grafana at {url}" in result.output
    assert "Traceback" not in result.output


def test_cli_needs_a_url_and_token(monkeypatch):
    monkeypatch.delenv("CLARION_GRAFANA_URL", raising=False)
    monkeypatch.delenv("CLARION_GRAFANA_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["push"])
    assert result.exit_code == 2
    assert "--url" in result.output


def datasource_current(dashboard: dict[str, Any]) -> dict[str, Any]:
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    return variable["current"]


def test_push_with_a_datasource_uid_starts_every_board_on_it(grafana):
    push_dashboards(grafana.url, TOKEN, datasource_uid="prom-campus")

    for stored in grafana.dashboards.values():
        assert datasource_current(stored["json"])["value"] == "prom-campus"
        text = json.dumps(stored["json"])
        assert '"uid": "prometheus"' not in text and "${datasource}" in text
    assert json.loads((DASHBOARDS / "clarion-overview.json").read_text())["templating"][
        "list"][0]["current"] == {}  # the files keep Grafana's default


def test_push_without_a_uid_leaves_grafana_its_default_prometheus(grafana):
    push_dashboards(grafana.url, TOKEN)
    assert all(datasource_current(d["json"]) == {} for d in grafana.dashboards.values())
    assert not [p for _, p, _ in grafana.requests if p.startswith("/api/datasources")]


def test_an_unknown_or_wrong_datasource_uid_pushes_nothing(grafana):
    with pytest.raises(GrafanaPushError, match="no data source with uid 'nope'"):
        push_dashboards(grafana.url, TOKEN, datasource_uid="nope")
    with pytest.raises(GrafanaPushError, match="'loki', not prometheus"):
        push_dashboards(grafana.url, TOKEN, datasource_uid="loki")
    assert not grafana.dashboards and not grafana.folders


def test_cli_push_takes_a_datasource_uid(grafana):
    result = CliRunner().invoke(app, ["push", "--url", grafana.url, "--token", TOKEN,
                                      "--datasource-uid", "prom-campus"])
    assert result.exit_code == 0, result.output
    assert {datasource_current(d["json"])["value"] for d in grafana.dashboards.values()} == \
        {"prom-campus"}
    refused = CliRunner().invoke(app, ["push", "--url", grafana.url, "--token", TOKEN,
                                       "--datasource-uid", "missing"])
    assert refused.exit_code == 1 and "no data source with uid 'missing'" in refused.output
