"""Rules & preferences: categories (quiet hours, caps, duplicates, digests, defaults),
routing rules and a person's preferences — all through clarion.planning.config, which
checks every value (refused naming the field) and writes the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from ...errors import NotFound, Rejected
from ...planning import config
from ...planning.categories import CategorySettings
from ...planning.routing import RuleSpec
from ...store import policy as policy_sql
from ..web import Ctx, page, redirect, render

router = APIRouter()


def _page(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    from ...channels.registry import channel_specs
    store = ctx.state.store
    return render(ctx, "rules.html", status, categories=config.list_categories(store),
                  rules=policy_sql.rules(store), channels=list(channel_specs(ctx.state.settings)),
                  notice=ctx.query("notice") or None, **values)


def _refused(ctx: Ctx, exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        exc = Rejected(".".join(str(p) for p in err["loc"]), err["msg"])
    message = f"{exc.field}: {exc.message}" if isinstance(exc, Rejected) else str(exc)
    return _page(ctx, 422, error=message)


@page(router, "GET", "/rules", "policy.view")
def rules_page(ctx: Ctx) -> Response:
    return _page(ctx)


def _digest(text: str) -> dict[str, str] | None:
    parts = text.split()
    if not parts:
        return None
    if parts[0] == "week" and len(parts) == 3:
        return {"every": "week", "weekday": parts[1].lower(), "at": parts[2]}
    if parts[0] == "day" and len(parts) == 2:
        return {"every": "day", "at": parts[1]}
    raise Rejected("digest", f"{text!r} is not 'day HH:MM' or 'week DAY HH:MM'")


def _number(ctx: Ctx, name: str) -> int | None:
    text = ctx.field(name)
    if text and not text.isdigit():
        raise Rejected(name, "a whole number, or empty")
    return int(text) if text else None


@page(router, "POST", "/rules/categories", "policy.edit")
def set_category(ctx: Ctx) -> Response:
    try:
        category = CategorySettings(
            name=ctx.field("name"), description=ctx.field("description"),
            critical=ctx.field("critical") == "on", opt_in=ctx.field("opt_in") == "on",
            quiet_hours=ctx.field("quiet_hours") or None, cap_per_day=_number(ctx, "cap_per_day"),
            cap_per_week=_number(ctx, "cap_per_week"),
            dedup_window_s=_number(ctx, "dedup_window_s"), digest=_digest(ctx.field("digest")),
            sms_footer=ctx.field("sms_footer") or None)
        config.set_category(ctx.state.store, category, ctx.staff.actor)
    except (Rejected, ValidationError, ValueError) as exc:
        return _refused(ctx, exc)
    return redirect("/console/rules?notice=saved")


@page(router, "POST", "/rules/routing", "policy.edit")
def set_rule(ctx: Ctx) -> Response:
    try:
        rule = RuleSpec(channels=ctx.fields("channels"), mode=ctx.field("mode") or "first",
                        source=ctx.field("source") or "*")
        config.set_rule(ctx.state.store, ctx.state.settings, ctx.field("category"), rule,
                        ctx.staff.actor)
    except (Rejected, NotFound, ValidationError, ValueError) as exc:
        return _refused(ctx, exc)
    return redirect("/console/rules?notice=saved")


@page(router, "POST", "/rules/routing/delete", "policy.edit")
def delete_rule(ctx: Ctx) -> Response:
    try:
        config.delete_rule(ctx.state.store, ctx.field("category"), ctx.field("source") or "*",
                           ctx.staff.actor)
    except NotFound as exc:
        return _refused(ctx, exc)
    return redirect("/console/rules?notice=saved")


@page(router, "POST", "/rules/preferences", "preferences.edit")
def set_preference(ctx: Ctx) -> Response:
    try:
        change = config.PreferenceChange(preferences=[config.PreferenceSpec(
            category=ctx.field("category"), channel=ctx.field("channel") or "*",
            opted_in=ctx.field("opted_in") == "in")])
        config.set_preferences(ctx.state.store, ctx.state.settings, ctx.field("recipient_id"),
                               change, ctx.staff.actor)
    except (Rejected, NotFound, ValidationError) as exc:
        return _refused(ctx, exc)
    return redirect("/console/rules?notice=saved")
