"""Deliveries: find by recipient id, phone, e-mail or delivery id; one delivery's trace."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ...store import console_directory as people
from ...store import deliveries
from ..web import Ctx, page, render

router = APIRouter()


@page(router, "GET", "/deliveries", "deliveries.view")
def delivery_search(ctx: Ctx) -> Response:
    text = ctx.query("q")[:320]
    found = people.deliveries_to(ctx.state.store, text) if text else []
    return render(ctx, "deliveries.html", q=text, found=found)


@page(router, "GET", "/deliveries/{delivery_id}", "deliveries.view")
def delivery_trace(ctx: Ctx) -> Response:
    delivery, events = deliveries.trace(ctx.state.store, ctx.param("delivery_id"))
    if delivery is None:
        return render(ctx, "not_found.html", 404, what=ctx.param("delivery_id"))
    return render(ctx, "trace.html", d=delivery, events=events)
