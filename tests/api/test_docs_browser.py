"""``/docs`` and ``/redoc`` render their operations in a real browser (Debian's Chromium,
driven by Playwright) that may reach nothing beyond loopback: every other request is refused
and recorded, so a page that still needs a CDN shows up blank and fails here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ..conftest import need

CHROMIUM = os.environ.get("CLARION_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# ReDoc's "API docs by Redocly" footer shows this image from Redocly's CDN; offline it is a
# missing picture in the sidebar's corner, nothing the page needs to render.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    need("Chromium", Path(CHROMIUM).is_file(), "run scripts/ensure-chromium.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright", False, "install the test extra (scripts/bootstrap.sh)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A page whose requests beyond loopback are aborted; ``page.outside`` lists them as
    (resource type, url)."""
    context = browser.new_context()
    outside: list[tuple[str, str]] = []

    def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append((route.request.resource_type, url))
            route.abort()
    context.route("**/*", only_loopback)
    page = context.new_page()
    page.outside = outside  # type: ignore[attr-defined]
    yield page
    context.close()


def test_swagger_ui_renders_the_operations_offline(live_api, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_api.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/messages" in p for p in paths), paths
    assert any("/v1/campaigns" in p for p in paths), paths
    assert page.outside == []


def test_redoc_renders_the_operations_offline(live_api, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_api.url}/redoc")
    page.wait_for_selector("[data-section-id^='operation/']", timeout=20_000)
    assert page.locator("[data-section-id^='operation/']").count() >= 5
    assert "/v1/messages" in page.inner_text("body")
    assert [url for _kind, url in page.outside] in ([], [REDOCLY_LOGO]), page.outside
