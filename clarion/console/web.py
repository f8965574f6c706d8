"""Where every console request passes: the session, the role check against the permission
table, the CSRF check of every form, the security headers — one place, applied by ``page``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool

from . import i18n
from .accounts import Staff
from .permissions import PUBLIC, allowed, pages_for
from .sessions import COOKIE, Session, load_session, same_token

TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
DECLARED: dict[tuple[str, str], str] = {}  # (method, path) → permission, for the tests

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                   lstrip_blocks=True)


@dataclass
class Ctx:
    """One request as a page sees it."""

    request: Request
    state: Any  # ConsoleState
    session: Session | None
    form: dict[str, Any] = field(default_factory=dict)

    @property
    def staff(self) -> Staff:
        assert self.session is not None
        return self.session.staff

    @property
    def locale(self) -> str:
        if self.session:
            return self.session.staff.locale
        return self.request.cookies.get("clarion_locale") or self.state.console.default_locale

    def t(self, text: str, **values: Any) -> str:
        return i18n.translate(self.locale, text, **values)

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def query(self, name: str, default: str = "") -> str:
        return (self.request.query_params.get(name) or default).strip()

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.get(f"{name}[]", []) if v.strip()]


def render(ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    role = ctx.session.staff.role if ctx.session else None
    html = _env.get_template(template).render(
        t=ctx.t, locale=ctx.locale, me=ctx.session.staff if ctx.session else None,
        csrf=values.pop("login_csrf", None) or (ctx.session.csrf if ctx.session else ""),
        nav=pages_for(role) if role else [], titles=i18n.NAV_TITLES, path=ctx.request.url.path,
        can=lambda p: bool(role) and allowed(role, p), **values)
    return HTMLResponse(html, status_code=status)


def preview_fragment(ctx: Ctx, check: Callable[[Ctx], tuple[Any, dict[str, Any]]]
                     ) -> HTMLResponse:
    """The preview fragment a form's script swaps in as it changes (or the refusal)."""
    from ..errors import Rejected
    try:
        _checked, shown = check(ctx)
    except Rejected as exc:
        return render(ctx, "compose_preview.html", 422, error=f"{exc.field}: {exc.message}")
    return render(ctx, "compose_preview.html", shown=shown)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def secured(request: Request, response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _read_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form.keys():
        values = form.getlist(key)
        out[key] = values if key.endswith("[]") else values[-1]
    return out


async def _guard(request: Request, permission: str, method: str) -> Ctx | Response:
    st = request.app.state.console
    session = await run_in_threadpool(load_session, st.store, request.cookies.get(COOKIE))
    ctx = Ctx(request, st, session)
    if method == "POST":
        ctx.form = await _read_form(request)
    if permission == PUBLIC:
        return ctx
    if session is None:
        return redirect("/console/login?next=" + quote(request.url.path, safe="/"))
    if not allowed(session.staff.role, permission):
        return render(ctx, "forbidden.html", 403, permission=permission)
    if method == "POST" and not same_token(ctx.field("csrf"), session.csrf):
        return render(ctx, "forbidden.html", 403, permission="csrf")
    return ctx


Handler = Callable[[Ctx], Any]


def page(router: APIRouter, method: str, path: str, permission: str,
         streaming: bool = False) -> Callable[[Handler], Handler]:
    """Declare a console route with its permission; the handler runs in a thread (it may
    touch the database) unless ``streaming`` (an async generator of a response)."""
    def declare(handler: Handler) -> Handler:
        DECLARED[(method, "/console" + path)] = permission

        async def endpoint(request: Request) -> Response:
            ctx = await _guard(request, permission, method)
            if isinstance(ctx, Response):
                return secured(request, ctx)
            if streaming:
                response = await handler(ctx)
            else:
                response = await run_in_threadpool(handler, ctx)
            return secured(request, response)
        router.add_api_route(path, endpoint, methods=[method], include_in_schema=False,
                             name=f"console.{handler.__name__}")
        return handler
    return declare


