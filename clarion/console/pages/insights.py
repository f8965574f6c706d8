"""Insights: which audience segments read a category — each role, department and grade
ranked by its measured read rate (with its counts), beside its people's learned interest;
the same figures are Compose's "Who reads …" panel (a fragment it fetches as the category
changes)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ...errors import Rejected
from ..insights import categories, known_category, who_reads
from ..web import Ctx, page, render

router = APIRouter()
PANEL_ROWS = 8


@page(router, "GET", "/insights", "insights.view")
def insights_page(ctx: Ctx) -> Response:
    store, choices = ctx.state.store, categories(ctx.state.store)
    asked = ctx.query("category")[:200]
    try:
        category = known_category(store, asked, choices) if asked else choices[0]
    except IndexError:  # a site without categories
        return render(ctx, "insights.html", choices=choices, chosen="", w=None)
    except Rejected as exc:
        return render(ctx, "insights.html", 422, choices=choices, chosen=asked,
                      error=f"{exc.field}: {exc.message}")
    return render(ctx, "insights.html", choices=choices, chosen=category,
                  w=who_reads(store, category), rows=None)


@page(router, "GET", "/insights/panel", "insights.view")
def insights_panel(ctx: Ctx) -> Response:
    """The panel alone, for Compose (the 422 fragment names the field)."""
    try:
        category = known_category(ctx.state.store, ctx.query("category")[:200])
    except Rejected as exc:
        return render(ctx, "who_reads.html", 422, failed=f"{exc.field}: {exc.message}")
    return render(ctx, "who_reads.html", w=who_reads(ctx.state.store, category),
                  rows=PANEL_ROWS)
