"""The API against the real store and broker: an app per test, keys made with given scopes."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

INBOX_SECRET = "test-inbox-secret"
RECEIPT_SECRET = "test-receipt-secret"
EVERYTHING = {"categories": ["*", "emergency"], "channels": ["*"], "audiences": ["*"]}


@pytest.fixture
def api_settings(clarion_env, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLARION_INBOX_TOKEN_SECRET", INBOX_SECRET)
    monkeypatch.setenv("CLARION_RECEIPT_SECRETS", '{"sms": "%s"}' % RECEIPT_SECRET)
    monkeypatch.setenv("CLARION_API_KEY_PEPPER", "test-pepper")
    monkeypatch.setenv("CLARION_API_KEY_CACHE_SECONDS", "0")
    monkeypatch.setenv("CLARION_INBOX_POLL_SECONDS", "0.2")
    from clarion.security import ApiSettings
    return ApiSettings()


@pytest.fixture
def app(settings, store, api_settings):  # type: ignore[no-untyped-def]
    from clarion.api import create_app
    return create_app(settings, api_settings)


@pytest.fixture
def client(app) -> Iterator:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_key(store, api_settings) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """Create a key: make_key(system="library", categories=[…], …) -> "clk_…"."""
    from clarion.security import create_key

    def make(system: str = "registrar", rate: float = 1000.0, **scopes: list[str]) -> str:
        given = {**EVERYTHING, **scopes}
        _key_id, key = create_key(store, api_settings, system, given["categories"],
                                  given["channels"], given["audiences"], rate,
                                  given.get("abilities"))
        return key
    return make


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class LiveServer:
    """uvicorn serving the app in a thread (for streaming responses)."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        import uvicorn
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_api(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(app)
    yield server
    server.stop()


class ApiProcess:
    """``clarion api`` in its own process (for figures the test's own threads must not skew)."""

    def __init__(self, log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys

        from ..conftest import ROOT, _wait_http, free_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clarion.cli.main", "api", "--port", str(self.port),
             "--log-level", "warning"], env={**os.environ, **(extra_env or {})},
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        _wait_http(f"{self.url}/healthz", self.proc, log_path, timeout=60)

    def stop(self) -> None:
        import subprocess
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def api_process(api_settings, store, tmp_path: Path) -> Iterator[ApiProcess]:  # type: ignore[no-untyped-def]
    server = ApiProcess(tmp_path / "api.log")
    yield server
    server.stop()


class HealthProbe:
    """Starts ``GET /healthz`` every ``interval`` seconds whether or not the last one has
    answered (an open loop: a stalled server delays every probe due meanwhile, not just one),
    and keeps each probe's latency from the moment it was due."""

    def __init__(self, url: str, interval: float = 0.02, workers: int = 64) -> None:
        from concurrent.futures import ThreadPoolExecutor

        import httpx
        self.url, self.interval = f"{url}/healthz", interval
        self.samples: list[tuple[float, float]] = []  # (due, seconds)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers)
        self._client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=workers))
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self._thread.start()

    def _schedule(self) -> None:
        while not self._stop.is_set():
            self._pool.submit(self._probe, time.perf_counter())
            time.sleep(self.interval)

    def _probe(self, due: float) -> None:
        self._client.get(self.url).raise_for_status()
        self.samples.append((due, time.perf_counter() - due))

    def between(self, start: float, end: float) -> list[float]:
        """The latencies of the probes due in [start, end] (perf_counter times)."""
        return [s for at, s in self.samples if start <= at <= end]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True)
        self._client.close()
