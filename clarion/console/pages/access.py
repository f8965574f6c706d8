"""Access: API keys (created and shown once, rotated, revoked, scoped), staff accounts and
roles, and the audit log (filterable)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ... import security
from ...errors import Rejected
from ...store import audit
from ...store import console as sql
from ..accounts import create_staff
from ..permissions import ROLES
from ..web import Ctx, page, redirect, render

router = APIRouter()


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.replace("\n", ",").split(",") if v.strip()]


def _page(ctx: Ctx, status: int = 200, **values: Any) -> Response:
    store = ctx.state.store
    return render(ctx, "access.html", status, keys=security.list_keys(store),
                  staff=sql.list_staff(store), roles=ROLES, abilities=security.ABILITIES,
                  notice=ctx.query("notice") or None, **values)


def _audit(ctx: Ctx, action: str, target: str, detail: str | None = None) -> None:
    from ...api.audit import write
    write(ctx.state.store, audit.entry(ctx.staff.actor, action, target, "ok", detail))


@page(router, "GET", "/access", "access.view")
def access_page(ctx: Ctx) -> Response:
    return _page(ctx)


@page(router, "POST", "/access/keys", "access.edit")
def key_create(ctx: Ctx) -> Response:
    system = ctx.field("system")
    if not system:
        return _page(ctx, 422, error="system: name the calling system")
    try:
        key_id, key = security.create_key(
            ctx.state.store, ctx.state.api.api, system, _split(ctx.field("categories")) or ["*"],
            _split(ctx.field("channels")) or ["*"], _split(ctx.field("audiences")) or ["*"],
            float(ctx.field("rate") or 10), ctx.fields("abilities"))
    except ValueError as exc:
        return _page(ctx, 422, error=str(exc))
    _audit(ctx, "apikey.create", key_id, system)
    return _page(ctx, secret=key, secret_for=key_id)


@page(router, "POST", "/access/keys/{key_id}/rotate", "access.edit")
def key_rotate(ctx: Ctx) -> Response:
    key_id = ctx.param("key_id")
    key = security.rotate_key(ctx.state.store, ctx.state.api.api, key_id)
    if key is None:
        return render(ctx, "not_found.html", 404, what=key_id)
    _audit(ctx, "apikey.rotate", key_id)
    return _page(ctx, secret=key, secret_for=key_id)


@page(router, "POST", "/access/keys/{key_id}/revoke", "access.edit")
def key_revoke(ctx: Ctx) -> Response:
    key_id = ctx.param("key_id")
    if not security.revoke_key(ctx.state.store, key_id):
        return render(ctx, "not_found.html", 404, what=key_id)
    _audit(ctx, "apikey.revoke", key_id)
    return redirect("/console/access?notice=revoked")


@page(router, "POST", "/access/staff", "access.edit")
def staff_create(ctx: Ctx) -> Response:
    try:
        create_staff(ctx.state.store, ctx.field("email"), ctx.field("password"),
                     ctx.field("role"), ctx.staff.actor, name=ctx.field("name") or None,
                     categories=_split(ctx.field("categories")),
                     audiences=_split(ctx.field("audiences")),
                     channels=_split(ctx.field("channels")),
                     needs_approval=ctx.field("needs_approval") == "on")
    except Rejected as exc:
        return _page(ctx, 422, error=f"{exc.field}: {exc.message}")
    return redirect("/console/access?notice=created")


@page(router, "POST", "/access/staff/{staff_id}/disable", "access.edit")
def staff_disable(ctx: Ctx) -> Response:
    staff_id = ctx.param("staff_id")
    if staff_id == ctx.staff.id:
        return _page(ctx, 422, error="staff: you cannot disable your own account")
    row = sql.staff_by_id(ctx.state.store, staff_id)
    if row is None or not sql.disable_staff(ctx.state.store, staff_id, audit.entry(
            ctx.staff.actor, "staff.disable", row["email"], "ok")):
        return render(ctx, "not_found.html", 404, what=staff_id)
    return redirect("/console/access?notice=disabled")


@page(router, "GET", "/audit", "audit.view")
def audit_page(ctx: Ctx) -> Response:
    chosen = {k: ctx.query(k)[:120] for k in ("actor", "action", "target")}
    return render(ctx, "audit.html", rows=sql.audit_entries(ctx.state.store, **chosen),
                  chosen=chosen)
