"""``/v1/unsubscribe/{token}``: the one-click unsubscribe link of every non-critical email.

``POST`` with ``List-Unsubscribe=One-Click`` (RFC 8058, what large mailbox providers send)
or from the confirmation page's button opts the person out of that category on that
channel, without a login; ``GET`` only shows the confirmation page (mail scanners follow
links).  A link that was changed is refused (400), an expired one too (410).
"""

from __future__ import annotations

import asyncio
import html
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from ...planning import unsubscribe
from ...signing import BadToken
from ..state import state

router = APIRouter(tags=["unsubscribe"])
Token = Path(min_length=10, max_length=1000)
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.5rem 1.2rem}}</style></head>
<body><h1>{title}</h1><p>{text}</p>{form}</body></html>"""


def _page(status: int, title: str, text: str, form: str = "") -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), text=html.escape(text),
                                    form=form), status_code=status)


def _refused(exc: BadToken) -> HTMLResponse:
    expired = "expired" in exc.message
    return _page(410 if expired else 400, "链接无效 / Link not valid", exc.message)


@router.get("/v1/unsubscribe/{token}", response_class=HTMLResponse,
            responses={400: {}, 410: {}})
async def confirm(request: Request, token: str = Token):
    """The confirmation page: nothing changes until its button is pressed."""
    try:
        ask = unsubscribe.read(state(request).settings, token)
    except BadToken as exc:
        return _refused(exc)
    form = ('<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">退订 / Unsubscribe</button></form>')
    return _page(200, "退订 / Unsubscribe",
                 f"Stop {ask.category} notices by {ask.channel}? "
                 f"不再通过 {ask.channel} 接收 {ask.category} 类通知？", form)


@router.post("/v1/unsubscribe/{token}", response_class=HTMLResponse,
             responses={400: {}, 404: {}, 410: {}})
async def unsubscribe_now(request: Request, token: str = Token):
    """One click: opted out of the link's category on its channel."""
    st = state(request)
    try:
        ask = unsubscribe.read(st.settings, token)
    except BadToken as exc:
        return _refused(exc)
    form = parse_qs((await request.body())[:1000].decode("utf-8", "replace"))
    if form.get("List-Unsubscribe") != ["One-Click"]:
        return _page(400, "请求无效 / Bad request",
                     "List-Unsubscribe: expected List-Unsubscribe=One-Click in the body")
    if not await asyncio.to_thread(unsubscribe.apply, st.store, ask):
        return _page(404, "未找到 / Not found", "this person is no longer in the directory")
    return _page(200, "已退订 / Unsubscribed",
                 f"You will no longer get {ask.category} notices by {ask.channel}. "
                 f"您将不再通过 {ask.channel} 接收 {ask.category} 类通知。")
