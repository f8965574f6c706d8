"""Sign in (throttled), sign out, language."""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from fastapi.responses import Response

from ...store import audit
from ...store import console as sql
from ..accounts import LOCALES, authenticate
from ..permissions import PUBLIC, SIGNED_IN
from ..sessions import (COOKIE, LOGIN_CSRF_COOKIE, close_session, note_failure, note_success,
                        open_session, same_token, throttled)
from ..web import Ctx, page, redirect, render

router = APIRouter()


def _cookie(ctx: Ctx, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=ctx.request.url.scheme == "https", path="/console")


def _next(target: str) -> str:
    ok = target.startswith("/console/") and not target.startswith("/console//")
    return target if ok else "/console/"


def _form(ctx: Ctx, status: int = 200, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(ctx, "login.html", status, login_csrf=token, error=error,
                      next=_next(ctx.query("next") or ctx.field("next")),
                      email=ctx.field("email"))
    _cookie(ctx, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@page(router, "GET", "/login", PUBLIC)
def login_form(ctx: Ctx) -> Response:
    return _form(ctx)


@page(router, "POST", "/login", PUBLIC)
def login(ctx: Ctx) -> Response:
    st, email = ctx.state, ctx.field("email")
    if not same_token(ctx.field("csrf"), ctx.request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _form(ctx, 403, "CSRF")
    if throttled(st.store, st.console, email):
        return _form(ctx, 429, ctx.t("Too many wrong passwords: try again later."))
    member = authenticate(st.store, email, ctx.field("password"))
    if member is None:
        note_failure(st.store, email)
        return _form(ctx, 401, ctx.t("Wrong e-mail or password."))
    note_success(st.store, email)
    session = open_session(st.store, st.console, member)
    response = redirect(_next(ctx.field("next")))
    _cookie(ctx, response, COOKIE, session.token, int(st.console.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@page(router, "POST", "/logout", SIGNED_IN)
def logout(ctx: Ctx) -> Response:
    close_session(ctx.state.store, ctx.session.token)  # type: ignore[union-attr]
    response = redirect("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response


@page(router, "POST", "/locale", SIGNED_IN)
def set_locale(ctx: Ctx) -> Response:
    locale = ctx.field("locale")
    if locale in LOCALES:
        sql.set_locale(ctx.state.store, ctx.staff.id, locale,
                       audit.entry(ctx.staff.actor, "staff.locale", ctx.staff.email, "ok", locale))
    referer = ctx.request.headers.get("referer", "")
    path = "/console/" + referer.split("/console/", 1)[1] if "/console/" in referer else "/console/"
    return redirect(_next(path))
