"""WeCom (企业微信) application messages, sent by an app (agent) of one corporation.

Identical content goes to up to 1000 user ids in one call (``touser: "a|b|…"``); a partial
success (``invaliduser``, ``unlicenseduser``: members without an API licence) becomes
per-recipient results.  The access token is cached per (corp, secret) — one channel per
account — and refreshed once, with one replay, when the provider says it expired.

WeCom truncates text over 2,048 bytes (a textcard's title over 128, description over 512);
the adapter cuts it first, at a character boundary, and says so in the delivery's trace.
WeCom drops, silently, a member's messages beyond 30 a minute and 1,000 an hour: those are
the adapter's default per-recipient limits, kept by the worker's shared rate limiter, so
the excess waits.  301002 (the secret's app is not ``agent_id``) stops the account: it is
the configuration, not the recipients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .base import AccountStoppedError, OutboundMessage, RetryableError, SendResult
from .http_support import (
    AccessToken, CodeTable, HttpChannel, checked_options, chunks, group_identical,
    send_until_halted, utf8_len,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
TOKEN_CODES = {40001, 40014, 42001}
CODES = CodeTable(
    retry={-1: 5.0, 45009: 60.0, 45033: 60.0},
    stop={60020: 600.0, 48002: 3600.0, 301002: 3600.0},
    failed={81013, 40003, 40032, 40035, 44004, 45002},
)
LIMITS = {"text": 2048, "title": 128, "description": 512}  # bytes; WeCom truncates beyond
ELLIPSIS = "…"
INVALID = ("81013", "user id invalid or outside the app's visible range")
UNLICENSED = ("unlicenseduser", "member has no API licence (unlicenseduser): not delivered")


class WecomAppChannel(HttpChannel):
    name = "wecom_app"
    max_batch = 1000
    ids_per_call = 1000
    secret_fields = ("secret",)
    # WeCom's caps per member; beyond them it drops messages without a word
    default_per_recipient_limits: ClassVar[dict[str, int]] = {"per_minute": 30,
                                                              "per_hour": 1000}

    def __init__(self, corp_id: str, secret: str, agent_id: int | str,
                 base_url: str = DEFAULT_BASE_URL, safe: int = 0):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, int(agent_id)
        self.base_url, self.safe = base_url.rstrip("/"), int(safe)
        self._token = AccessToken(self._fetch_token)

    @classmethod
    def from_options(cls, options: dict[str, Any], deps: Any = None) -> WecomAppChannel:
        return cls(**checked_options(cls.name, options, ("corp_id", "secret", "agent_id"),
                                     ("base_url", "safe")))

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        units = [unit for group in group_identical(messages)
                 for unit in chunks(group, self.ids_per_call)]
        return await send_until_halted(units, self._send_unit)

    async def _send_unit(self, unit: Sequence[OutboundMessage]) -> list[SendResult]:
        body, note = payload(unit[0], agent_id=self.agent_id, safe=self.safe)
        body["touser"] = "|".join(dict.fromkeys(m.address for m in unit))
        reply = await self._post_with_token("/cgi-bin/message/send", body)
        return self._results(unit, reply, note)

    async def _post_with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self._token.get()
        reply = await self._post(path, token, body)
        if reply.get("errcode") in TOKEN_CODES:  # refresh once, replay once
            reply = await self._post(path, await self._token.refresh(stale=token), body)
        return reply

    async def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call_json("POST", f"{self.base_url}{path}",
                                     params={"access_token": token}, json=body)

    def _results(self, unit: Sequence[OutboundMessage], reply: dict[str, Any],
                 note: str | None) -> list[SendResult]:
        code = int(reply.get("errcode", -1))
        if code in (0, 81013):  # 81013: nobody reached; the lists still say who and why
            refused, msgid = refused_members(reply), reply.get("msgid")
            unlisted = None if code == 0 else INVALID
            return [self._refused(m, why) if (why := refused.get(m.address.lower(), unlisted))
                    else SendResult.sent(m.delivery_id, msgid, note) for m in unit]
        reason = self.masked(f"{self.name}: {code} {reply.get('errmsg', '')}")
        error = CODES.error(code, reason)
        if error:
            raise error
        return [SendResult.failed(m.delivery_id, str(code), reason) for m in unit]

    def _refused(self, m: OutboundMessage, why: tuple[str, str]) -> SendResult:
        return SendResult.failed(m.delivery_id, why[0], f"{self.name}: {why[1]}")

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await self._call_json("GET", f"{self.base_url}/cgi-bin/gettoken",
                                      params={"corpid": self.corp_id, "corpsecret": self.secret})
        code = int(reply.get("errcode", 0))
        if code == 0 and reply.get("access_token"):
            return reply["access_token"], float(reply.get("expires_in", 7200))
        reason = self.masked(f"{self.name}: token refused: {code} {reply.get('errmsg', '')}")
        if code in (-1, 45009, 45033):
            raise RetryableError(reason, str(code), retry_after=CODES.retry.get(code))
        raise AccountStoppedError(reason, str(code))  # wrong corp id or secret: fix, then resume


def refused_members(reply: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Lower-cased user id -> (code, reason) of each member the reply lists as not reached."""
    refused = {u: INVALID for u in _ids(reply.get("invaliduser"))}
    refused.update((u, UNLICENSED) for u in _ids(reply.get("unlicenseduser")))
    return refused


def _ids(listed: Any) -> list[str]:
    """WeCom lists ids as "a|b" (older replies and linked corps: a JSON list)."""
    items = listed if isinstance(listed, list) else str(listed or "").split("|")
    return [str(u).strip().lower() for u in items if str(u).strip()]


def payload(m: OutboundMessage, *, agent_id: int, safe: int) -> tuple[dict[str, Any], str | None]:
    """A textcard when the message links somewhere, else text; each field fitted to WeCom's
    size, with a note of what was cut (None when nothing was)."""
    base = {"agentid": agent_id, "safe": safe, "enable_duplicate_check": 0}
    url = link(m)
    if url:
        title, title_cut = fit_bytes("title", m.content.get("title") or m.text()[:40])
        text, text_cut = fit_bytes("description", m.text())
        card = {"title": title, "description": text, "url": url,
                "btntxt": m.content.get("button", "详情")}
        return {**base, "msgtype": "textcard", "textcard": card}, _notes(title_cut, text_cut)
    text, cut = fit_bytes("text", plain_text(m))
    return {**base, "msgtype": "text", "text": {"content": text}}, _notes(cut)


def fit_bytes(field: str, value: str) -> tuple[str, str | None]:
    """``value`` within WeCom's size for ``field`` (cut at a UTF-8 character boundary, an
    ellipsis at the end), and what was cut, if anything."""
    limit, size = LIMITS[field], utf8_len(value)
    if size <= limit:
        return value, None
    room = limit - utf8_len(ELLIPSIS)
    cut = value.encode("utf-8")[:room].decode("utf-8", "ignore") + ELLIPSIS
    return cut, f"{field} cut to {utf8_len(cut)} bytes (was {size}; WeCom takes {limit})"


def _notes(*cuts: str | None) -> str | None:
    kept = [c for c in cuts if c]
    return f"wecom_app: {'; '.join(kept)}" if kept else None


def link(m: OutboundMessage) -> str | None:
    return m.content.get("url") or m.extra.get("url")


def plain_text(m: OutboundMessage) -> str:
    title, body = m.content.get("title"), m.text()
    return f"{title}\n{body}" if title and body != title else body
