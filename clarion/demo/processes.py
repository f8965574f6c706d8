"""Start and stop the demo's helper processes: capture servers, Prefect, workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port(preferred: int | None = None) -> int:
    if preferred:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", preferred)) != 0:
                return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Children of the demo, stopped together (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def start_ready(self, name: str, args: list[str], timeout: float = 30) -> str:
        """Start a capture server and return the URL from its ``ready <url>`` line."""
        proc = self.start(name, [sys.executable, "-u", *args])
        log = self.log_dir / f"{name}.log"
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in log.read_text().splitlines():
                if line.startswith("ready "):
                    return line.split(" ", 1)[1].strip()
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready")

    def wait_http(self, name: str, url: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        proc = dict(self.children)[name]
        while time.time() < deadline:
            if proc.poll() is not None:
                log = (self.log_dir / f"{name}.log").read_text()[-2000:]
                raise RuntimeError(f"{name} exited: {log}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{name} did not answer at {url}")

    def stop_all(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc in reversed(self.children):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
