"""The broadcast deployment's form in the Prefect UI, as staff fill it: a real Prefect server
with its UI, ``clarion serve``, Debian's Chromium driven by Playwright, a worker and the SMS
capture gateway.  Fields, not JSON: the site's categories and channels are choices, the text
is typed per channel, variables are name/value pairs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, need, wait_until
from .test_deployment import _create_run, _deployment_id, served  # noqa: F401 - fixture

CHROMIUM = os.environ.get("CLARION_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "docs" / "prefect-form.png"


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


def prop(scope, label: str):  # type: ignore[no-untyped-def]
    """The form property whose own label is ``label`` (not a nested one's)."""
    return scope.locator(".schema-form-property:has(> .p-label__header "
                         f".schema-form-property__label:text-is('{label}'))").first


def choose(page, field, *options: str) -> None:  # type: ignore[no-untyped-def]
    field.locator(".p-select-button__control").click()
    page.keyboard.press("ArrowDown")  # opens the list
    for option in options:
        page.get_by_role("option", name=option, exact=True).click()
    if page.locator("[role=listbox]").count():
        page.get_by_text("Run Name", exact=True).click()  # outside: the list closes
    page.locator("[role=listbox]").wait_for(state="detached")


def fill_campaign(page) -> None:  # type: ignore[no-untyped-def]
    request = prop(page, "request")
    prop(request, "Name").locator("textarea, input").first.fill("Library closes early")
    choose(page, prop(request, "Category (Optional)"), "library")
    roles = prop(prop(request, "Audience"), "Roles (Optional)")
    roles.get_by_role("button", name="Add item").click()
    roles.locator("textarea, input").first.fill("teacher")
    choose(page, prop(request, "Channels"), "sms", "inbox")
    content = prop(request, "Content (Optional)")
    content.get_by_role("button", name="Text per channel").click()
    default = prop(content, "Default (Optional)")
    default.get_by_role("button", name="title, body, link").click()
    prop(default, "Title (Optional)").locator("textarea, input").first.fill("Library hours")
    prop(default, "Body (Optional)").locator("textarea, input").first.fill(
        "Dear {{ recipient.name }}, the library closes at 16:00 on {{ day }}.")
    variables = prop(request, "Variables (Optional)")
    variables.get_by_role("button", name="Add item").click()
    prop(variables, "Name").locator("textarea, input").first.fill("day")
    prop(variables, "Value").locator("textarea, input").first.fill("Friday")


def _runs(api: str, deployment: str) -> list[dict]:
    body = {"flow_runs": {"deployment_id": {"any_": [deployment]}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()


@pytest.mark.sqlite_only  # orchestration, not the database: once is enough
def test_staff_fill_the_form_field_by_field_and_the_deliveries_go_out(
        prefect_api, served, browser, store, campus, sms_gateway, workers):  # noqa: F811
    campus(200)
    gateway = sms_gateway()
    workers.start(channels="sms,inbox")
    wait_until(lambda: _deployment_id(prefect_api) is not None, timeout=90,
               message="the broadcast deployment to be served")
    deployment = _deployment_id(prefect_api)
    ui = prefect_api.removesuffix("/api")
    page = browser.new_page(viewport={"width": 1280, "height": 3300})  # the whole form
    page.goto(f"{ui}/deployments/deployment/{deployment}/run", wait_until="networkidle")
    page.get_by_role("button", name="Submit").click()  # nothing filled: refused in the form
    page.wait_for_timeout(1000)
    assert "/run" in page.url and not _runs(prefect_api, deployment)
    page.reload(wait_until="networkidle")  # a clean form for the screenshot
    fill_campaign(page)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"**/deployments/deployment/{deployment}**", timeout=30_000)
    wait_until(lambda: bool(_runs(prefect_api, deployment)), timeout=30, message="the run")
    [run] = _runs(prefect_api, deployment)
    assert run["parameters"]["request"]["variables"] == [{"name": "day", "value": "Friday"}]
    wait_until(lambda: httpx.get(f"{prefect_api}/flow_runs/{run['id']}", timeout=5).json()
               ["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"), timeout=120,
               message="the flow run to finish")
    assert httpx.get(f"{prefect_api}/flow_runs/{run['id']}",
                     timeout=5).json()["state"]["type"] == "COMPLETED"
    texts = [r["text"] for r in gateway.records()]
    assert len(texts) == 20  # the campus's teachers
    assert all(t.startswith("Dear ") and "closes at 16:00 on Friday." in t for t in texts)
    page.close()


@pytest.mark.sqlite_only  # orchestration, not the database: once is enough
def test_a_request_the_site_cannot_send_fails_its_run_with_the_reason_and_no_traceback(
        prefect_api, served, store, campus):  # noqa: F811
    campus(20)
    wait_until(lambda: _deployment_id(prefect_api) is not None, timeout=90,
               message="the broadcast deployment to be served")
    deployment = _deployment_id(prefect_api)
    request = {"name": "Nobody", "category": "general", "channels": ["sms"],
               "audience": {"roles": ["astronaut"]},
               "content": {"default": {"title": "T", "body": "B"}}}
    bad = httpx.post(f"{prefect_api}/deployments/{deployment}/create_flow_run", timeout=10,
                     json={"parameters": {"request": {**request, "category": "pigeons"}}})
    assert bad.status_code == 409 and "pigeons" in bad.text  # refused by Prefect's schema
    run = _create_run(prefect_api, deployment, {"parameters": {"request": request}})

    def state() -> dict:
        return httpx.get(f"{prefect_api}/flow_runs/{run['id']}", timeout=5).json()["state"]
    wait_until(lambda: state()["type"] in ("COMPLETED", "FAILED", "CRASHED"), timeout=120,
               message="the flow run to end")
    assert state()["type"] == "FAILED"
    assert state()["message"] == ("campaign refused: audience: the audience matches no "
                                  "recipients")

    def run_log() -> str:  # the run's logs reach the server in batches, after its state
        logs = httpx.post(f"{prefect_api}/logs/filter", timeout=10, json={
            "logs": {"flow_run_id": {"any_": [run["id"]]}}}).json()
        return "\n".join(entry["message"] for entry in logs)
    wait_until(lambda: "campaign refused" in run_log(), timeout=30, message="the run's log")
    text = run_log()
    assert "campaign refused: audience" in text and "Traceback" not in text, text
