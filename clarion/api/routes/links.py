"""``GET /v1/l/{token}``: the signed redirect of a tracked link (clarion.planning.links).

No login: the token is the proof.  It answers 303 to the link the token names, after
recording the first click of its delivery (for people who allow profiling).  A token that
was changed or is not ours is 400, an expired one 410 — an HTML page for a browser, the
API's JSON error naming ``token`` for anything else; never a redirect.
"""

from __future__ import annotations

import asyncio
import html

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...planning import links
from ...signing import BadToken
from ...store.deliveries import now
from ..errors import ErrorBody, error_response
from ..state import state

router = APIRouter(tags=["links"])
Token = Path(min_length=10, max_length=4000)
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
</style></head><body><h1>{title}</h1><p>{text}</p></body></html>"""
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _refused(request: Request, exc: BadToken) -> Response:
    expired = "expired" in exc.message
    status, code = (410, "expired") if expired else (400, "bad_token")
    if "text/html" in request.headers.get("accept", ""):
        title = "链接已过期 / Link expired" if expired else "链接无效 / Link not valid"
        body = PAGE.format(title=html.escape(title), text=html.escape(exc.message))
        return HTMLResponse(body, status_code=status, headers=PRIVATE)
    return error_response(status, code, f"token: {exc.message}", "token", PRIVATE)


REFUSED = {"model": ErrorBody, "content": {"text/html": {"schema": {"type": "string"}}}}


@router.get("/v1/l/{token}", status_code=303, response_class=RedirectResponse,
            responses={400: REFUSED, 410: REFUSED, 422: {"model": ErrorBody}})
async def follow_link(request: Request, token: str = Token):
    """Go to the tracked link (303), recording the first click of its delivery."""
    st = state(request)
    try:
        click = links.read(st.settings, token)
    except BadToken as exc:
        return _refused(request, exc)
    await asyncio.to_thread(links.record_click, st.store, st.settings, click, now())
    return RedirectResponse(click.url, status_code=303, headers=PRIVATE)
