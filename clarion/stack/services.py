"""What ``clarion up`` starts, in order, and how it knows each one is ready."""

from __future__ import annotations

import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..demo.processes import free_port

PREFECT_PORT, API_PORT, METRICS_PORT = 4200, 8000, 9101


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: Callable[[Path], bool]  # given its log file
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's


def answers(url: str) -> Callable[[Path], bool]:
    def check(_log: Path) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    return check


def logged(text: str) -> Callable[[Path], bool]:
    def check(log: Path) -> bool:
        try:
            return text in log.read_text(errors="replace")
        except FileNotFoundError:
            return False
    return check


def clarion(*args: str) -> list[str]:
    return [sys.executable, "-m", "clarion.cli.main", *args]


def prefect_server() -> tuple[Service, str]:
    port = free_port(PREFECT_PORT)
    prefect = str(Path(sys.executable).with_name("prefect"))
    api = f"http://127.0.0.1:{port}/api"
    service = Service("prefect-server", [prefect, "server", "start", "--host", "127.0.0.1",
                                         "--port", str(port)],
                      answers(f"{api}/health"), f"http://127.0.0.1:{port}",
                      {"PREFECT_UI_API_URL": api})  # the UI's pages call this API
    return service, api


def deployment_server() -> Service:
    return Service("deployment-server", clarion("serve"),
                   logged("Your deployments are being served"))


def campaign_runner() -> Service:
    return Service("campaign-runner", clarion("runner"), logged("campaign runner ready"))


def workers(count: int) -> list[Service]:
    out = []
    for i in range(count):
        port = free_port(METRICS_PORT + i)
        out.append(Service(f"worker-{i}", clarion("worker", "--metrics-port", str(port)),
                           logged(" consuming "), f"http://127.0.0.1:{port}/metrics"))
    return out


def api(public_url: str) -> Service:
    wanted = urllib.parse.urlsplit(public_url).port or API_PORT
    port = free_port(wanted)
    base = f"http://127.0.0.1:{port}"
    return Service("api", clarion("api", "--port", str(port)), answers(f"{base}/healthz"),
                   base)

