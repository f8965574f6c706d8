"""The Overview: running campaigns with live progress, queues, trouble, failure rates."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from ..overview import overview
from ..web import Ctx, page, render

router = APIRouter()


def grafana(ctx: Ctx) -> str | None:
    base = ctx.state.console.grafana_url or ctx.state.settings.grafana_url
    return base.rstrip("/") if base else None


@page(router, "GET", "/", "overview.view")
def overview_page(ctx: Ctx) -> Response:
    return render(ctx, "overview.html", grafana=grafana(ctx),
                  **overview(ctx.state.store, ctx.state.settings))


@page(router, "GET", "/progress", "overview.view", streaming=True)
async def progress_stream(ctx: Ctx) -> Response:
    ticks = ctx.query("ticks")
    stream = ctx.state.progress.watch(int(ticks) if ticks.isdigit() else None)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
