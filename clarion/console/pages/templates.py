"""Templates: the list, editing with a live per-channel preview and variable check, and the
versions saved from the console."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from ... import content
from ...channels.registry import channel_specs
from ...content import SAMPLE_RECIPIENT, ContentError
from ...errors import Rejected
from ...store import audit
from ...store import console as sql
from ...store.models import Template
from ..compose_form import CONTENT_FIELDS, _content, _variables
from ..preview import sms_segments
from ..web import Ctx, page, preview_fragment, redirect, render

router = APIRouter()
PREVIEW_CHANNELS = ("email", "sms", "inbox", "wecom")


def _flat(variants: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: variants.get(v, {}).get(f, "") for name, (v, f) in CONTENT_FIELDS.items()}


def _rendered(ctx: Ctx, variants: dict[str, Any], variables: dict[str, Any]
              ) -> dict[str, Any]:
    """Each channel's text for a sample recipient; a missing variable names itself."""
    specs = channel_specs(ctx.state.settings)
    channels = [c for c in PREVIEW_CHANNELS if c in specs]
    compiled = content.compile_content(variants, channels, {c: specs[c]["type"] for c in channels})
    out: dict[str, Any] = {}
    for channel in channels:
        fields = compiled.render(channel, SAMPLE_RECIPIENT, variables)
        out[channel] = {"kind": specs[channel]["type"], "fields": fields}
        if channel == "sms":
            out[channel]["sms"] = sms_segments(fields.get("text", ""))
    return {"count": 1, "sample": SAMPLE_RECIPIENT, "channels": out,
            "route": type("R", (), {"channels": channels, "mode": "preview"})}


@page(router, "GET", "/templates", "templates.view")
def template_list(ctx: Ctx) -> Response:
    with ctx.state.store.read() as conn:
        rows = conn.execute(select(Template.name, Template.updated_at)
                            .order_by(Template.name)).all()
    return render(ctx, "templates.html", rows=rows)


@page(router, "GET", "/templates/{name}", "templates.view")
def template_edit(ctx: Ctx) -> Response:
    name = ctx.param("name")
    if name == "new" and ctx.query("name"):
        return redirect(f"/console/templates/{quote(ctx.query('name')[:120], safe='')}")
    try:
        variants = content.load_template(ctx.state.store, name)
    except ContentError:
        variants = {}
    return render(ctx, "template.html", name=name, f=_flat(variants), variables="",
                  versions=sql.template_versions(ctx.state.store, name))


def _checked(ctx: Ctx) -> tuple[dict[str, Any], dict[str, Any]]:
    variants = _content(ctx.form)
    try:
        shown = _rendered(ctx, variants, _variables(ctx.field("variables")))
    except ContentError as exc:
        raise Rejected(exc.field, exc.message) from exc
    return variants, shown


@page(router, "POST", "/templates/preview", "templates.view")
def template_preview(ctx: Ctx) -> Response:
    return preview_fragment(ctx, _checked)


@page(router, "POST", "/templates/{name}", "templates.edit")
def template_save(ctx: Ctx) -> Response:
    name = ctx.param("name")
    values = {"name": name, "f": ctx.form, "variables": ctx.field("variables"),
              "versions": sql.template_versions(ctx.state.store, name)}
    try:
        variants, shown = _checked(ctx)
        content.save_template(ctx.state.store, name, variants)
    except (Rejected, ContentError) as exc:
        return render(ctx, "template.html", 422, error=f"{exc.field}: {exc.message}", **values)
    sql.add_template_version(ctx.state.store, name, variants, ctx.staff.email,
                             audit.entry(ctx.staff.actor, "template.save", name, "ok"))
    return redirect(f"/console/templates/{name}")
