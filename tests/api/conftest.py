"""The API against the real store and broker: an app per test, keys made with given scopes."""

from __future__ import annotations

import socket
import threading
import time
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
                                                    log_level="warning", lifespan="on"))
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
