"""axe-core (4.14.1, from the npm package, vendored as tests/console/axe.min.js and injected
into each page by the test) finds no critical violation on any main page, signed in as an
admin with data on the pages, nor on the sign-in page."""

from __future__ import annotations

from pathlib import Path

from clarion import content
from clarion.console.permissions import PAGES

from .conftest import login

AXE = Path(__file__).with_name("axe.min.js").read_text()


def critical_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(content=AXE)  # the context bypasses the CSP for this injection only
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"] == {"name": "axe-core", "version": "4.14.1"}
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in result["violations"]
            if v["impact"] == "critical"]


def test_no_critical_accessibility_violations(site, browser, make_staff, store, campus) -> None:  # type: ignore[no-untyped-def]
    campus(30)
    content.save_template(store, "exam-timetable", {"default": {"title": "Exams",
                                                               "body": "Exams on {{ day }}"}})
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(site.url + "/console/login")
    found = {"login": critical_violations(page)}
    login(page, site.url, make_staff("admin", locale="zh-CN"))
    for name, path, _permission in PAGES:
        page.goto(site.url + path)
        found[name] = critical_violations(page)
    for path in ("/console/directory/S000001", "/console/templates/exam-timetable"):
        page.goto(site.url + path)
        found[path] = critical_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    context.close()
