"""Approvals: the campaigns waiting for an approver, with their preview and audience count;
approve or reject with a comment — the console resumes the paused flow run through
Prefect's API with the same typed input as the Prefect UI's form."""

from __future__ import annotations

from typing import Any

from anyio import from_thread
from fastapi import APIRouter
from fastapi.responses import Response

from ... import campaigns
from ...errors import Rejected
from ...store import audit
from ...store import console as sql
from ..preview import preview
from ..web import Ctx, page, redirect, render

router = APIRouter()


async def resume(flow_run_id: str, run_input: dict[str, Any]) -> str:
    """Resume the paused run with this input; Prefect's answer (ACCEPT, REJECT, …)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    async with get_client() as client:
        result = await client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
    return str(getattr(result.status, "value", result.status))


def _waiting(ctx: Ctx) -> list[dict[str, Any]]:
    store, out = ctx.state.store, []
    for row in sql.waiting_approvals(store):
        try:
            request = campaigns.load_request(store, row["campaign_id"])
            shown = preview(store, ctx.state.settings, request)
        except (campaigns.CampaignNotFound, Rejected):
            continue
        out.append({**row, "request": request, "shown": shown,
                    "own": (row["requested_by"] or "") == ctx.staff.email})
    return out


@page(router, "GET", "/approvals", "approvals.view")
def approvals_page(ctx: Ctx) -> Response:
    return render(ctx, "approvals.html", waiting=_waiting(ctx), notice=ctx.query("notice"))


@page(router, "POST", "/approvals/{campaign_id}", "approvals.decide")
def decide(ctx: Ctx) -> Response:
    store, campaign_id = ctx.state.store, ctx.param("campaign_id")
    row = sql.approval(store, campaign_id)
    if row is None or row["state"] != "waiting" or not row["flow_run_id"]:
        return render(ctx, "not_found.html", 404, what=campaign_id)
    approve, comment = ctx.field("decision") == "approve", ctx.field("comment")[:2000]
    if (row["requested_by"] or "") == ctx.staff.email:
        from ...api.audit import write
        write(store, audit.entry(ctx.staff.actor, "campaign.approve", campaign_id,
                                 "refused:own", comment or None))
        return render(ctx, "forbidden.html", 403, permission="approvals.decide (own campaign)")
    answer = from_thread.run(resume, row["flow_run_id"],
                             {"approve": approve, "approver": ctx.staff.email,
                              "comment": comment})
    return redirect(f"/console/approvals?notice={answer}")
