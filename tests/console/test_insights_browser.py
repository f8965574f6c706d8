"""In the browser: a sender composing a campaign picks a category and sees who reads it — the
segments of a simulated site (its engagement loaded into the database, its profiles learned
by the retrain's own step) ranked with the department that truly prefers the category first,
"too little data" for a department of three; the Insights page in Chinese, with no critical
accessibility fault (axe); an unknown category refused naming the field.  With
CLARION_CONSOLE_SCREENSHOTS=docs/console it saves the compose panel and the page."""

from __future__ import annotations

import re
from datetime import timedelta

from clarion.demo.history import load_site
from clarion.intelligence.engagement.site_history import COLLEGES, campaign_rows, simulate_site
from clarion.intelligence.evaluation.segments import segment_labels, true_preference
from clarion.planning import clock, profiles
from clarion.store import deliveries

from ..site import load_people, person
from .conftest import login, shoot
from .test_accessibility import critical_violations

TINY = ["A1", "A2", "A3"]


def simulated_site(store, folder):  # type: ignore[no-untyped-def]
    """600 people whose tastes go by department and 20 days of their engagement ending now,
    three people of a department of their own with a library notice each; then the
    retrain's profile step, as the weekly flow runs it."""
    now = clock.now()
    site = simulate_site(600, deliveries_per_person=60, days=20, seed=11,
                         start=(now - timedelta(days=21)).timestamp(), segments=len(COLLEGES))
    load_site(store, site, folder)
    load_people(store, folder / "tiny.csv", [person(p, department="Astronomy") for p in TINY])
    library = next(c["id"] for c in campaign_rows(site) if c["category"] == "library")
    deliveries.insert_new(store, [
        {"id": f"d_{p}", "campaign_id": library, "message_id": None, "recipient_id": p,
         "channel": "inbox", "address": "x", "content": {}, "category": "library",
         "priority": "normal", "source": "test", "status": "sent",
         "created_at": now - timedelta(days=1)} for p in TINY], "test")
    profiles.learn(store, now)
    return site


def test_compose_shows_who_reads_the_chosen_category(site, browser, make_staff, store,  # type: ignore[no-untyped-def]
                                                     tmp_path) -> None:
    simulated = simulated_site(store, tmp_path)
    labels = segment_labels(simulated, "department")
    truth = true_preference(simulated, labels, "library")
    top = max(truth, key=truth.get)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site.url, make_staff("sender", categories=["campus", "library"],
                                     audiences=["*"], locale="en"))
    page.goto(f"{site.url}/console/compose")
    assert page.locator("#who-reads-title").inner_text() == "Who reads campus"
    page.select_option("#category", "library")
    page.wait_for_selector("#who-reads-title:text-is('Who reads library')")
    rows = page.locator("#who-reads tbody tr")
    departments = [s for s in rows.evaluate_all("rs => rs.map(r => r.dataset.segment)")
                   if s.startswith("department:")]
    assert departments[0] == f"department:{top}", (departments, truth)
    first = rows.first
    assert re.fullmatch(r"\d+%", first.locator(".read-rate").inner_text())
    assert re.fullmatch(r"0\.\d\d|1\.\d\d", first.locator(".interest").inner_text())
    page.fill("#name", "New e-books this month")  # the sender takes the suggestion
    page.check(f"input[name='departments[]'][value='{top}']")
    page.check("input[name='channels[]'][value='inbox']")
    page.fill("#title", "New e-books")
    page.fill("#body", "Dear {{ recipient.name }}, 40 new e-books are in the catalogue.")
    page.click("button[value=preview]")
    assert page.locator(".error").count() == 0, page.locator(".error").all_inner_texts()
    assert page.locator("#recipient-count").inner_text() == str(labels.count(top))
    assert page.locator("#who-reads-title").inner_text() == "Who reads library"
    shoot(page, "compose-who-reads")
    page.click("#who-reads-panel a[href^='/console/insights?category=library']")
    tiny = page.locator("tr[data-segment='department:Astronomy']")
    assert "too little data" in tiny.locator(".read-rate").inner_text()
    assert tiny.locator("td").nth(2).inner_text() == "– / 3"  # its size, not its reads
    assert page.locator("#who-reads tbody tr").count() > 8  # the page: every segment
    shoot(page, "insights")
    refused = page.goto(f"{site.url}/console/insights?category=no-such-thing")
    assert refused.status == 422
    assert page.locator(".error").inner_text().startswith("category: no category 'no-such-thing'")
    panel = page.request.get(f"{site.url}/console/insights/panel?category=")
    assert panel.status == 422 and "category: no category" in panel.text()
    context.close()


def test_insights_in_chinese_for_a_viewer_without_accessibility_faults(site, browser, make_staff, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    simulated_site(store, tmp_path)
    context = browser.new_context(bypass_csp=True)  # for axe's script alone
    page = context.new_page()
    login(page, site.url, make_staff("viewer", locale="zh-CN"))
    page.goto(f"{site.url}/console/insights?category=library")
    assert page.locator("#who-reads-title").inner_text() == "谁在读「library」"
    assert critical_violations(page) == []
    assert "数据太少" in page.locator("tr[data-segment='department:Astronomy']").inner_text()
    assert page.locator("nav a[href='/console/insights']").inner_text() == "受众洞察"
    context.close()
