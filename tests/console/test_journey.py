"""A member of staff's day in the browser, against the real parts (Prefect server and
``clarion serve``, RabbitMQ, workers, capture SMTP and SMS): sign in, compose a notice to a
department with its preview, send it, watch the Overview's progress bar reach 100%, open a
recipient's trace, and cancel a second campaign mid-way — its pending deliveries end
skipped; and schedule a third for a time (a Scheduled flow run).  With
CLARION_CONSOLE_SCREENSHOTS=docs/console it also saves each page's picture."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from clarion.console.permissions import PAGES
from clarion.store import deliveries
from clarion.store.models import Recipient

from ..conftest import wait_until
from .conftest import login, shoot


def biggest_department(store) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        dept, _n = conn.execute(select(Recipient.department, func.count()).group_by(
            Recipient.department).order_by(func.count().desc())).first()
        ids = list(conn.execute(select(Recipient.id).where(Recipient.department == dept))
                   .scalars())
    return dept, sorted(ids)


def compose(page: Any, base: str, name: str, department: str, channels: list[str]) -> None:
    page.goto(f"{base}/console/compose")
    page.fill("#name", name)
    page.select_option("#category", "academic")
    page.check(f"input[name='departments[]'][value='{department}']")
    for channel in channels:
        page.check(f"input[name='channels[]'][value='{channel}']")
    page.fill("#title", "Lab safety briefing")
    page.fill("#body", "Dear {{ recipient.name }}, the briefing is on {{ day }} in B-201.")
    page.fill("#email_subject", "Lab safety briefing on {{ day }}")
    page.fill("#variables", "day=Friday")
    page.click("button[value=preview]")


def send(page: Any) -> str:
    page.click("button[value=send]")
    page.wait_for_url(re.compile(r".*/console/campaigns/c_[0-9a-f]+\?notice=started"))
    return page.url.split("/campaigns/")[1].split("?")[0]


def send_and_watch(page: Any, base: str, department: str, n: int) -> str:
    """Compose with its preview, send, and watch the Overview's bar reach 100%."""
    compose(page, base, "Lab safety briefing", department, ["email", "sms"])
    assert page.locator(".error").count() == 0, page.locator(".error").all_inner_texts()
    assert page.locator("#recipient-count").inner_text() == str(n)
    sms = page.locator("[data-channel-preview=sms]")
    assert "the briefing is on Friday in B-201" in sms.inner_text()
    assert re.search(r"\d+ characters · 1 segments · (UCS-2|GSM-7)",
                     sms.locator(".sms-length").inner_text())
    assert "Lab safety briefing on Friday" in page.locator(
        "[data-channel-preview=email]").inner_text()
    shoot(page, "compose")
    campaign = send(page)
    page.goto(f"{base}/console/")
    bar = page.locator(f"#progress-{campaign}")
    bar.wait_for()
    wait_until(lambda: bar.get_attribute("value") == "100", timeout=240,
               message="the progress bar to reach 100%")
    assert page.locator(f"#progress-label-{campaign}").inner_text().startswith(
        f"100% ({2 * n} / {2 * n})")
    shoot(page, "overview")
    return campaign


def open_trace(page: Any, base: str, recipient_id: str) -> None:
    page.goto(f"{base}/console/deliveries?q={recipient_id}")
    shoot(page, "deliveries")
    page.locator("table a[href^='/console/deliveries/d_']").first.click()
    page.wait_for_selector("#trace")
    assert page.locator("#delivery-status").inner_text() == "sent"
    assert "sent" in page.locator("#trace").inner_text()
    shoot(page, "trace")


def cancel_mid_way(page: Any, base: str, store, workers, department: str, n: int) -> None:  # type: ignore[no-untyped-def]
    workers.stop_all()
    workers.start(channels="sms")  # e-mail now waits in its queue: the campaign is mid-way
    compose(page, base, "Lab safety briefing, again", department, ["email", "sms"])
    second = send(page)
    wait_until(lambda: deliveries.counts(store, second).get("sms", {}).get("sent") == n,
               timeout=240, message="the SMS of the second campaign")
    page.reload()
    page.click("button.danger")
    page.wait_for_url(re.compile(r".*notice=cancelled"))
    assert page.locator("#campaign-status").inner_text().lower() in ("cancelled", "已取消")
    assert page.locator("[data-skipped=email]").inner_text() == str(n)
    assert page.locator("[data-open=email]").inner_text() == "0"
    assert deliveries.counts(store, second) == {"email": {"skipped": n}, "sms": {"sent": n}}
    shoot(page, "campaign")


def schedule_for_tomorrow(page: Any, base: str, prefect_api: str, department: str) -> None:
    """A campaign scheduled for a time is a Scheduled run of the same deployment."""
    import httpx
    compose(page, base, "Lab safety briefing, tomorrow", department, ["email"])
    page.fill("#schedule", "2099-01-05T08:30")
    campaign = send(page)
    run_id = page.locator("a[href*='/runs/flow-run/']").inner_text()
    run = httpx.get(f"{prefect_api}/flow_runs/{run_id}", timeout=5).json()
    assert run["state"]["type"] == "SCHEDULED", run["state"]
    assert run["expected_start_time"].startswith("2099-01-05T00:30")  # 08:30 Asia/Shanghai
    assert run["parameters"]["request"]["name"] == "Lab safety briefing, tomorrow"
    assert campaign.startswith("c_")


def test_compose_send_watch_trace_and_cancel(smtp_capture, sms_gateway, site, served, browser,  # type: ignore[no-untyped-def]
                                             make_staff, store, campus, workers,
                                             prefect_api) -> None:
    campus(240)
    sms_gateway()
    workers.start()
    department, ids = biggest_department(store)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    login(page, site.url, make_staff("operator", name="Wang Li"))
    send_and_watch(page, site.url, department, len(ids))
    open_trace(page, site.url, ids[0])
    cancel_mid_way(page, site.url, store, workers, department, len(ids))
    schedule_for_tomorrow(page, site.url, prefect_api, department)
    for name, path, _permission in PAGES:  # the rest of the console, for docs/console/
        if name not in ("overview", "compose", "deliveries"):
            page.goto(site.url + path)
            shoot(page, name)
    context.close()
