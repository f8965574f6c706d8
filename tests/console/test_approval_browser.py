"""Approval in the browser: a sender's emergency campaign waits; the sender cannot approve
it; an approver approves it in the console and its deliveries go out; the approver rejects
another (whose own requester, an admin, is refused) and it ends cancelled with the comment
in the audit log.  The same pause is shown resumable in the Prefect UI, with its form."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from clarion.store import console as sql
from clarion.store import deliveries
from clarion.store.api_models import AuditEntry

from ..conftest import wait_until
from .conftest import login, shoot
from .test_approval_flow import flow_run_state


def compose_emergency(page: Any, base: str, name: str) -> str:
    page.goto(f"{base}/console/compose")
    page.fill("#name", name)
    page.select_option("#category", "emergency")
    page.select_option("#priority", "emergency")
    page.check("input[name=everyone]")
    page.check("input[name='channels[]'][value='sms']")
    page.fill("#title", "Fire alarm")
    page.fill("#body", "FIRE: leave building E3 now.")
    page.click("button[value=send]")
    page.wait_for_url(re.compile(r".*/console/campaigns/c_[0-9a-f]+\?notice=started"))
    return page.url.split("/campaigns/")[1].split("?")[0]


def paused(store, prefect_api: str, cid: str) -> str:  # type: ignore[no-untyped-def]
    wait_until(lambda: (sql.approval(store, cid) or {}).get("state") == "waiting", timeout=120,
               message="the campaign to wait for approval")
    run_id = sql.approval(store, cid)["flow_run_id"]
    wait_until(lambda: flow_run_state(prefect_api, run_id) == "Paused", timeout=60,
               message="the flow run to pause")
    return run_id


def show_in_prefect_ui(browser: Any, prefect_api: str, run_id: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(prefect_api.removesuffix("/api") + f"/runs/flow-run/{run_id}")
    page.get_by_text("Paused").first.wait_for(timeout=60_000)
    page.get_by_role("button", name=re.compile("Resume")).first.click()
    page.get_by_text("Resume Flow Run").first.wait_for(timeout=30_000)
    assert page.get_by_text(re.compile("approver", re.I)).count() >= 1
    assert page.get_by_text(re.compile("comment", re.I)).count() >= 1
    shoot(page, "prefect-paused")
    context.close()


def sender_cannot_approve(page: Any, base: str, store, cid: str) -> None:  # type: ignore[no-untyped-def]
    assert page.goto(f"{base}/console/approvals").status == 403
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post(f"{base}/console/approvals/{cid}",
                                form={"csrf": token, "decision": "approve"})
    assert refused.status == 403 and sql.approval(store, cid)["state"] == "waiting"


def decide(judge: Any, base: str, cid: str, decision: str, comment: str) -> Any:
    judge.goto(f"{base}/console/approvals")
    card = judge.locator(f"[data-approval={cid}]")
    card.locator("textarea").fill(comment)
    card.locator(f"button[value={decision}]").click()
    judge.wait_for_url(re.compile(r".*notice=ACCEPT"))


def approve_in_console(judge: Any, base: str, store, cid: str, n: int, gateway) -> None:  # type: ignore[no-untyped-def]
    judge.goto(f"{base}/console/approvals")
    card = judge.locator(f"[data-approval={cid}]")
    assert card.locator("#recipient-count").inner_text() == str(n)
    assert "FIRE: leave building E3 now." in card.locator("[data-channel-preview=sms]").inner_text()
    shoot(judge, "approvals")
    decide(judge, base, cid, "approve", "confirmed with the fire brigade")
    wait_until(lambda: gateway.stats()["received"] == n, timeout=180, message="the alert")
    approval = sql.approval(store, cid)
    assert approval["state"] == "approved" and approval["decided_at"] is not None
    assert approval["comment"] == "confirmed with the fire brigade"


def own_refused_then_rejected(own: Any, judge: Any, base: str, store, prefect_api: str,  # type: ignore[no-untyped-def]
                              admin: str, approver: str) -> None:
    second = compose_emergency(own, base, "FIRE: building E4 (test)")
    paused(store, prefect_api, second)
    own.goto(f"{base}/console/approvals")
    mine = own.locator(f"[data-approval={second}]")
    assert mine.locator(".own").count() == 1 and mine.locator("button").count() == 0
    token = own.locator("input[name=csrf]").first.get_attribute("value")
    assert own.request.post(f"{base}/console/approvals/{second}",
                            form={"csrf": token, "decision": "approve"}).status == 403
    decide(judge, base, second, "reject", "not a drill day")
    wait_until(lambda: sql.approval(store, second)["state"] == "rejected", timeout=60,
               message="the rejection to be recorded")
    judge.goto(f"{base}/console/campaigns/{second}")
    assert judge.locator("#campaign-status").inner_text().lower() in ("cancelled", "已取消")
    assert deliveries.counts(store, second) == {}
    with store.read() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.outcome,
                                   AuditEntry.detail).where(AuditEntry.target == second)).all()
    assert (f"approver:{approver}", "campaign.rejected", "ok", "not a drill day") in rows
    assert (f"staff:{admin}", "campaign.approve", "refused:own", None) in rows


def test_emergency_waits_for_an_approver_in_the_console(smtp_capture, sms_gateway, site,  # type: ignore[no-untyped-def]
                                                         served, browser, prefect_api,
                                                         make_staff, store, campus,
                                                         workers) -> None:
    n = campus(40)
    gateway = sms_gateway()
    workers.start(channels="sms")
    sender = make_staff("sender", categories=["emergency", "safety"], audiences=["*"],
                        channels=["sms"])
    approver, admin = make_staff("approver"), make_staff("admin")
    pages = {who: browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
             for who in (sender, approver, admin)}
    for who, page in pages.items():
        login(page, site.url, who)
    first = compose_emergency(pages[sender], site.url, "FIRE: building E3")
    run_id = paused(store, prefect_api, first)
    assert deliveries.counts(store, first) == {}
    sender_cannot_approve(pages[sender], site.url, store, first)
    show_in_prefect_ui(browser, prefect_api, run_id)
    approve_in_console(pages[approver], site.url, store, first, n, gateway)
    own_refused_then_rejected(pages[admin], pages[approver], site.url, store, prefect_api,
                              admin, approver)
    assert gateway.stats()["received"] == n  # nothing of the rejected one went out
    for page in pages.values():
        page.context.close()
