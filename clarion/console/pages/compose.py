"""Compose: a campaign from a template or inline content, its audience counted and each
channel previewed for a sample recipient before it is sent — started as the same
``broadcast/broadcast`` deployment run the API starts."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from anyio import from_thread
from fastapi import APIRouter
from fastapi.responses import Response

from ... import campaigns
from ...domain import CampaignRequest, Priority, campaign_id_for
from ...errors import Rejected
from ...planning import config
from ...store import audit
from ...store import console as sql
from ...store import console_directory as people
from ...store.models import Template
from ..compose_form import allowed_values, build_request, check_scopes, scheduled_time
from ..insights import who_reads
from ..permissions import allowed
from ..preview import preview
from ..web import Ctx, page, preview_fragment, redirect, render
from .insights import PANEL_ROWS

router = APIRouter()


async def start_scheduled(parameters: dict[str, Any], key: str, when: datetime) -> str:
    """A flow run of the broadcast deployment scheduled for ``when``."""
    from prefect.client.orchestration import get_client
    from prefect.deployments.flow_runs import arun_deployment
    async with get_client() as client:
        run = await arun_deployment(name="broadcast/broadcast", client=client,
                                    parameters=parameters, timeout=0, idempotency_key=key,
                                    as_subflow=False, scheduled_time=when)
    return str(run.id)


def _templates(ctx: Ctx) -> list[str]:
    from sqlalchemy import select
    with ctx.state.store.read() as conn:
        return list(conn.execute(select(Template.name).order_by(Template.name)).scalars())


def _options(ctx: Ctx) -> dict[str, Any]:
    """What this member may pick: audiences, categories and channels inside its scopes."""
    scopes, known = ctx.staff.scopes, people.audience_options(ctx.state.store)
    from ...channels.registry import channel_specs
    channels = [c for c in channel_specs(ctx.state.settings)
                if "*" in scopes.channels or c in scopes.channels]
    cats = [c.name for c in config.list_categories(ctx.state.store)
            if ("*" in scopes.categories and c.name != "emergency") or c.name in scopes.categories]
    return {"roles": allowed_values(scopes, "role", known["roles"]),
            "departments": allowed_values(scopes, "department", known["departments"]),
            "grades": allowed_values(scopes, "grade", known["grades"]),
            "everyone": scopes.any_audience or "everyone" in scopes.audiences,
            "segments": sql.segments(ctx.state.store) if scopes.any_audience else [],
            "channels": channels, "categories": cats, "templates": _templates(ctx),
            "priorities": [p.value for p in Priority
                           if p is not Priority.EMERGENCY or "emergency" in scopes.categories]}


def _who_reads(ctx: Ctx, chosen: str | None, categories: list[str]) -> dict[str, Any] | None:
    """The "Who reads …" panel of the chosen category (the first one before any is)."""
    if not categories or not allowed(ctx.staff.role, "insights.view"):
        return None
    return who_reads(ctx.state.store, chosen if chosen in categories else categories[0])


def _form_page(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    form = ctx.form or {"nonce": secrets.token_urlsafe(12), "content_mode": "inline"}
    options = _options(ctx)
    return render(ctx, "compose.html", status, f=form, zone=ctx.state.settings.default_timezone,
                  w=_who_reads(ctx, form.get("category"), options["categories"]), rows=PANEL_ROWS,
                  **options, **values)


@page(router, "GET", "/compose", "campaigns.send")
def compose_form(ctx: Ctx) -> Response:
    return _form_page(ctx)


def _checked(ctx: Ctx) -> tuple[CampaignRequest, dict[str, Any]]:
    request = build_request(ctx.state.store, ctx.staff, ctx.form)
    check_scopes(ctx.state.store, ctx.state.settings, ctx.staff, request)
    return request, preview(ctx.state.store, ctx.state.settings, request)


@page(router, "POST", "/compose/preview", "campaigns.send")
def compose_preview(ctx: Ctx) -> Response:
    return preview_fragment(ctx, _checked)


def _start(ctx: Ctx, request: CampaignRequest, size: int) -> str:
    st, key = ctx.state, request.campaign_key()
    campaign_id = campaign_id_for(key)
    sql.put_request(st.store, campaign_id, ctx.staff.email, ctx.staff.needs_approval, size)
    parameters = {"request": request.model_dump(mode="json")}
    when = scheduled_time(ctx.field("schedule"), st.settings.default_timezone)
    if when is None:
        flow_run_id = from_thread.run(st.api.start_campaign, parameters, key)
    else:
        flow_run_id = from_thread.run(start_scheduled, parameters, key, when)
    route = campaigns.route_of(st.store, st.settings, request)
    campaigns.register(st.store, request, route, flow_run_id)
    from ...api.audit import write
    write(st.store, audit.entry(ctx.staff.actor, "campaign.create", campaign_id, "ok",
                                f"{request.name} ({size} recipients"
                                f"{', scheduled ' + when.isoformat() if when else ''})"))
    return campaign_id


@page(router, "POST", "/compose", "campaigns.send")
def compose_send(ctx: Ctx) -> Response:
    try:
        request, shown = _checked(ctx)
    except Rejected as exc:
        return _form_page(ctx, 422, error=f"{exc.field}: {exc.message}")
    if ctx.field("action") != "send":
        return _form_page(ctx, shown=shown)
    try:
        campaign_id = _start(ctx, request, shown["count"])
    except Rejected as exc:
        return _form_page(ctx, 422, error=f"{exc.field}: {exc.message}", shown=shown)
    except Exception as exc:  # noqa: BLE001 - Prefect unreachable or the deployment missing
        return _form_page(ctx, 503, error="could not start the broadcast flow: "
                                          f"{type(exc).__name__}", shown=shown)
    return redirect(f"/console/campaigns/{campaign_id}?notice=started")
