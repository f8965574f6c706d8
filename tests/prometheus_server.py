"""A real ``prometheus`` on 127.0.0.1 for tests: temporary config, storage and port.

    with PrometheusServer({"clarion-workers": ["127.0.0.1:9101"]}) as prom:
        prom.wait_for_series("clarion_deliveries_total")
        evaluate_panels(prom.url, "dashboards", {"channel": "email"})

Scrapes every target each second (``scrape_interval``), optionally loads rule files (the
alerts are then visible at ``prom.url + "/api/v1/alerts"``), and is stopped (and its storage
removed) on exit. Needs the ``prometheus`` binary: ``scripts/ensure-prometheus.sh``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

import yaml


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    def __init__(self, targets: dict[str, list[str]], scrape_interval: str = "1s",
                 rule_files: list[str | Path] = (), binary: str | None = None) -> None:
        self.targets = targets  # job name -> ["127.0.0.1:PORT", ...] (path /metrics)
        self.scrape_interval = scrape_interval
        self.rule_files = [str(Path(f).resolve()) for f in rule_files]
        self.binary = binary or prometheus_binary()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        if not self.binary:
            raise RuntimeError("prometheus is not installed: run scripts/ensure-prometheus.sh")
        self.workdir = Path(tempfile.mkdtemp(prefix="clarion-prometheus-"))
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()))
        self._log = (self.workdir / "prometheus.log").open("wb")
        for _attempt in range(3):  # the free port may be taken before prometheus binds it
            self.port = free_port()
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=self._log)
            if self._wait_ready(timeout):
                return self
        log = (self.workdir / "prometheus.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"prometheus did not become ready:\n{log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            return json.load(response)

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("/api/v1/query", query=expr)["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query until it returns a series (or raise after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise TimeoutError(f"no data for {expr!r} after {timeout:.0f}s")

    def wait_for_series(self, metric: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until ``metric`` has been scraped at least twice (enough for rate())."""
        return self.wait_for(f"count_over_time({metric}[1m]) >= 2", timeout)

    def _config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.scrape_interval,
                       "evaluation_interval": self.scrape_interval},
            "rule_files": self.rule_files,
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(addrs)}]}
                               for job, addrs in self.targets.items()],
        }

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: most likely the port was taken
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.process.kill()
        self.process.wait(timeout=10)
        return False
