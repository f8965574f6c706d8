"""The console against real parts: the whole app served by uvicorn, Debian's Chromium driven
by Playwright (one browser per session, a new context per test), staff of each role."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ..api.conftest import LiveServer, api_settings  # noqa: F401 - fixtures
from ..conftest import ROOT, need

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
SHOTS = os.environ.get("CLARION_CONSOLE_SCREENSHOTS")  # a folder: save a PNG of each page


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's Chromium (scripts/ensure-chromium.sh); under CI a missing one fails.

    One browser for the tests of this folder (a new context per test).  Playwright's sync API
    keeps an event loop marked running in the main thread while it is started, so it is
    stopped when this folder's tests end (the rest of the suite calls ``asyncio.run``) and
    the tests here run their coroutines in a thread of their own (``in_thread``)."""
    need("Chromium", os.path.exists(CHROMIUM), "scripts/ensure-chromium.sh installs it")
    from playwright.sync_api import sync_playwright
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def console_env(clarion_env, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Approval on (the rest of the suite turns it off), answered quickly."""
    monkeypatch.setenv("CLARION_APPROVAL", "on")
    monkeypatch.setenv("CLARION_APPROVAL_POLL_S", "1")
    monkeypatch.setenv("CLARION_CONSOLE_PROGRESS_POLL_S", "0.3")
    from clarion.settings import get_settings
    get_settings.cache_clear()
    return clarion_env


@pytest.fixture
def site(console_env, api_settings, store) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The whole app (API and console) on a port of its own."""
    from clarion.api import create_app
    from clarion.settings import get_settings
    server = LiveServer(create_app(get_settings(), api_settings))
    yield server
    server.stop()


@pytest.fixture
def make_staff(store) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """make_staff("sender", categories=[…], audiences=[…]) -> the new member's e-mail."""
    from clarion.console.accounts import create_staff
    made: list[str] = []

    def make(role: str, email: str | None = None, **options: Any) -> str:
        email = email or f"{role}{len(made)}@campus.example.edu"
        create_staff(store, email, PASSWORD, role, "test", locale=options.pop("locale", "en"),
                     **options)
        made.append(email)
        return email
    return make


def in_thread(coroutine: Any) -> Any:
    """``asyncio.run`` in a thread of its own (the main thread may hold Playwright's loop)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def login(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(?!login).*"))


def shoot(page: Any, name: str) -> None:
    """A screenshot for docs/console/ when CLARION_CONSOLE_SCREENSHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def served(console_env, prefect_api, tmp_path: Path) -> Iterator[subprocess.Popen]:  # type: ignore[no-untyped-def]
    """``clarion serve``: the broadcast deployment the console and the API start."""
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "clarion.cli.main", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    import httpx

    from ..conftest import wait_until
    wait_until(lambda: httpx.get(f"{prefect_api}/deployments/name/broadcast/broadcast",
                                 timeout=5).status_code == 200, timeout=120,
               message="the broadcast deployment to be served")
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
