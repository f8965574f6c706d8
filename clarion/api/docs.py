"""``/docs`` (Swagger UI) and ``/redoc`` from assets installed with Clarion, not from a CDN.

FastAPI's own pages load their JavaScript and CSS from cdn.jsdelivr.net (and ReDoc's fonts
from Google), so on a campus network without internet they render blank.  The same pages here
load the copies that the pinned ``fastapi-offline`` package ships (Swagger UI 5, ReDoc 2),
served under ``/docs-assets``; nothing on the page leaves the API's host.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = files("fastapi_offline") / "static"
# no validator badge: Swagger UI would ask validator.swagger.io about the schema
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the two documentation pages of ``app`` (created with docs_url/redoc_url None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    oauth2_redirect = f"{docs_url}/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        url = _urls(request, app.openapi_url)
        return get_swagger_ui_html(
            openapi_url=url("openapi"), title=f"{app.title} – API",
            oauth2_redirect_url=url(oauth2_redirect), swagger_js_url=url("swagger-ui-bundle.js"),
            swagger_css_url=url("swagger-ui.css"), swagger_favicon_url=url("favicon.png"),
            swagger_ui_parameters=SWAGGER_PARAMETERS)

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        url = _urls(request, app.openapi_url)
        return get_redoc_html(openapi_url=url("openapi"), title=f"{app.title} – API reference",
                              redoc_js_url=url("redoc.standalone.js"),
                              redoc_favicon_url=url("favicon.png"), with_google_fonts=False)


def _urls(request: Request, openapi_url: str | None) -> Callable[[str], str]:
    """URLs under the request's root path: "openapi", an absolute path, or an asset's name."""
    root = str(request.scope.get("root_path") or "")

    def url(name: str) -> str:
        if name == "openapi":
            return f"{root}{openapi_url}"
        return f"{root}{name}" if name.startswith("/") else f"{root}{ASSETS_URL}/{name}"
    return url
