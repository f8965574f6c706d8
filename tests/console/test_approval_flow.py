"""The broadcast flow's approval step on a real Prefect server: it pauses with a typed input
(the flow run is Paused), resumes on an approver's answer through Prefect's API, ignores an
answer from the person who asked, and cancels the campaign when nobody answers in time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from clarion.store import console as sql
from clarion.store import deliveries
from clarion.store.api_models import AuditEntry

from ..conftest import wait_until
from ..scenarios import Background, campaign_id, sms_notice
from .conftest import in_thread


def flow_run_state(api: str, run_id: str) -> str:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]["name"]


def resume(run_id: str, **answer: Any) -> str:
    from clarion.console.pages.approvals import resume as console_resume
    return in_thread(console_resume(run_id, answer))


def waiting_run(store, cid: str) -> str:  # type: ignore[no-untyped-def]
    wait_until(lambda: (sql.approval(store, cid) or {}).get("state") == "waiting", timeout=90,
               message="the campaign to wait for an approver")
    return sql.approval(store, cid)["flow_run_id"]  # type: ignore[index]


def audit_of(store, cid: str) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
                            .where(AuditEntry.target == cid).order_by(AuditEntry.id)).all()
    return [tuple(r) for r in rows]


def test_a_sender_whose_role_needs_approval_waits_paused_until_approved(  # type: ignore[no-untyped-def]
        console_env, prefect_api, store, campus, sms_gateway, workers) -> None:
    campus(30)
    gateway = sms_gateway()
    workers.start(channels="sms")
    request = sms_notice("needs-approval")
    cid = campaign_id(request)
    sql.put_request(store, cid, "clerk@campus.example.edu", True, 30)
    run = Background(request, timeout_s=120)
    run_id = waiting_run(store, cid)
    wait_until(lambda: flow_run_state(prefect_api, run_id) == "Paused", timeout=30,
               message="the flow run to pause")
    assert deliveries.counts(store, cid) == {}  # nothing fanned out while it waits
    assert resume(run_id, approve=True, approver="clerk@campus.example.edu") == "ACCEPT"
    wait_until(lambda: flow_run_state(prefect_api, run_id) == "Paused", timeout=30,
               message="the run to pause again: its own sender may not approve it")
    assert resume(run_id, approve=True, approver="dean@campus.example.edu",
                  comment="ok") == "ACCEPT"
    result = run.join(180)
    assert result["status"] == "completed" and gateway.stats()["received"] == 30
    approval = sql.approval(store, cid)
    assert approval["state"] == "approved" and approval["decided_by"] == "dean@campus.example.edu"
    assert approval["decided_at"] is not None
    assert ("approver:dean@campus.example.edu", "campaign.approved", "ok") in audit_of(store, cid)


def test_an_emergency_nobody_approves_in_time_ends_cancelled(  # type: ignore[no-untyped-def]
        console_env, prefect_api, store, campus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARION_APPROVAL_TIMEOUT_S", "3")
    from clarion.settings import get_settings
    get_settings.cache_clear()
    campus(10)
    request = sms_notice("unanswered", priority="emergency")
    result = Background(request, timeout_s=60).join(120)
    cid = campaign_id(request)
    assert result["status"] == "cancelled"
    assert sql.approval(store, cid)["state"] == "timed_out"
    assert "emergency priority" in sql.approval(store, cid)["reason"]
    assert ("prefect", "campaign.timed_out", "no approver answered in time") in audit_of(store, cid)
    assert deliveries.counts(store, cid) == {}


def test_a_small_normal_campaign_needs_no_approval(console_env, prefect_api, store, campus,  # type: ignore[no-untyped-def]
                                                   sms_gateway, workers) -> None:
    campus(10)
    sms_gateway()
    workers.start(channels="sms")
    request = sms_notice("no-approval")
    assert Background(request, timeout_s=120).join(180)["status"] == "completed"
    assert sql.approval(store, campaign_id(request)) is None


def test_cancelled_while_waiting_sends_nothing_even_if_approved_and_the_asker_may_withdraw(  # type: ignore[no-untyped-def]
        console_env, prefect_api, store, campus) -> None:
    from clarion import campaigns
    campus(10)
    first, second = (sms_notice(k, priority="emergency") for k in ("cancel-waiting", "withdrawn"))
    runs = [Background(r, timeout_s=120) for r in (first, second)]
    ids = [campaign_id(r) for r in (first, second)]
    sql.put_request(store, ids[1], "asker@campus.example.edu", False, 10)
    run_ids = [waiting_run(store, cid) for cid in ids]
    for run_id in run_ids:
        wait_until(lambda: flow_run_state(prefect_api, run_id) == "Paused", timeout=30,
                   message="the flow run to pause")
    campaigns.cancel(store, ids[0], actor="staff:ops@campus.example.edu")
    assert resume(run_ids[0], approve=True, approver="dean@campus.example.edu") == "ACCEPT"
    assert resume(run_ids[1], approve=False, approver="asker@campus.example.edu",
                  comment="sent by mistake") == "ACCEPT"
    results = [run.join(120) for run in runs]
    assert [r["status"] for r in results] == ["cancelled", "cancelled"]
    assert deliveries.counts(store, ids[0]) == {} and deliveries.counts(store, ids[1]) == {}
    assert sql.approval(store, ids[1])["state"] == "rejected"
    assert ("approver:asker@campus.example.edu", "campaign.rejected",
            "sent by mistake") in audit_of(store, ids[1])
