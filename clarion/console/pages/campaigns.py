"""Campaigns: the list with filters and progress, one campaign's whole story, cancel."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter
from fastapi.responses import Response

from ... import campaigns
from ...store import audit
from ...store import console as sql
from ...store import console_overview as q
from ...store.db import Store
from ..web import Ctx, page, redirect, render

router = APIRouter()
STATES = ("running", "waiting", "completed", "cancelled", "failed")


def _day(text: str, plus: int = 0) -> datetime | None:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return day + timedelta(days=plus)


@page(router, "GET", "/campaigns", "campaigns.view")
def campaign_list(ctx: Ctx) -> Response:
    store = ctx.state.store
    chosen = {k: ctx.query(k) for k in ("status", "category", "source", "since", "until")}
    rows = q.list_campaigns(store, status=chosen["status"], category=chosen["category"],
                            source=chosen["source"], since=_day(chosen["since"]),
                            until=_day(chosen["until"], 1))
    counts = q.progress(store, [r["id"] for r in rows if r["status"] in q.ACTIVE])
    return render(ctx, "campaigns.html", rows=rows, counts=counts, chosen=chosen,
                  states=STATES, **q.campaign_filters(store))


def prefect_run_url(flow_run_id: str | None) -> str | None:
    """The flow run in the Prefect UI (PREFECT_UI_URL, else beside PREFECT_API_URL)."""
    if not flow_run_id:
        return None
    ui = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL", "")
    ui = ui.rstrip("/").removesuffix("/api")
    return f"{ui}/runs/flow-run/{flow_run_id}" if ui else None


def _details(store: Store, campaign_id: str) -> dict | None:
    try:
        info = campaigns.get(store, campaign_id)
    except campaigns.CampaignNotFound:
        return None
    return {"c": info, "approval": sql.approval(store, campaign_id),
            "prefect_url": prefect_run_url(info["flow_run_id"]),
            "request": campaigns.load_request(store, campaign_id)}


@page(router, "GET", "/campaigns/{campaign_id}", "campaigns.view")
def campaign_detail(ctx: Ctx) -> Response:
    found = _details(ctx.state.store, ctx.param("campaign_id"))
    if found is None:
        return render(ctx, "not_found.html", 404, what=ctx.param("campaign_id"))
    return render(ctx, "campaign.html", notice=ctx.query("notice") or None, **found)


def _end_the_wait(store: Store, campaign_id: str, by: str) -> None:
    """A campaign cancelled while it waits for an approver: its paused run ends now."""
    waiting = sql.approval(store, campaign_id)
    if waiting and waiting["state"] == "waiting" and waiting["flow_run_id"]:
        from anyio import from_thread

        from .approvals import resume
        from_thread.run(resume, waiting["flow_run_id"],
                        {"approve": False, "approver": by, "comment": "cancelled"})


@page(router, "POST", "/campaigns/{campaign_id}/cancel", "campaigns.cancel")
def campaign_cancel(ctx: Ctx) -> Response:
    store, campaign_id = ctx.state.store, ctx.param("campaign_id")
    try:
        skipped = campaigns.cancel(store, campaign_id, actor=ctx.staff.actor)
    except campaigns.CampaignNotFound:
        return render(ctx, "not_found.html", 404, what=campaign_id)
    from ...api.audit import write
    write(store, audit.entry(ctx.staff.actor, "campaign.cancel", campaign_id, "ok",
                             f"{skipped} skipped"))
    _end_the_wait(store, campaign_id, ctx.staff.email)
    return redirect(f"/console/campaigns/{campaign_id}?notice=cancelled")
