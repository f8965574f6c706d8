"""Who is calling: an API key (systems) or an inbox token (the campus app); rate limits."""

from __future__ import annotations

import asyncio
import math

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..security import Principal, verify_inbox_token, verify_key
from . import idempotency
from .errors import ApiError
from .state import ApiState, state

api_key_scheme = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                            description="an API key: clk_…")
inbox_token_scheme = HTTPBearer(auto_error=False, scheme_name="InboxToken",
                                description="a recipient's inbox token")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, "Authorization",
                    {"WWW-Authenticate": "Bearer"})


async def caller(request: Request,
                 credentials: HTTPAuthorizationCredentials | None = Depends(api_key_scheme)
                 ) -> Principal:
    """The principal of a valid API key, within its rate; else 401 or 429."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("an API key is required: Authorization: Bearer clk_…")
    st: ApiState = state(request)
    principal = await asyncio.to_thread(verify_key, st.store, st.api, credentials.credentials)
    if principal is None:
        raise _unauthorized("the API key is unknown or revoked")
    wait = await _rate_wait(st, principal, request.headers.get("Idempotency-Key"))
    if wait is not None:
        raise ApiError(429, "rate_limited", f"over this key's rate of {principal.rate:g}/s",
                       None, {"Retry-After": str(max(1, math.ceil(wait)))})
    return principal


async def _rate_wait(st: ApiState, principal: Principal, idempotency_key: str | None
                     ) -> float | None:
    """Seconds until this key may call again; None when it may now.  A repeat of an
    Idempotency-Key creates nothing and so costs nothing (``ratelimit``)."""
    if idempotency_key and await asyncio.to_thread(idempotency.seen, st.store,
                                                   principal.key_id, idempotency_key):
        return None
    return st.limiter.take(principal.key_id, principal.rate, ticket=idempotency_key)


async def inbox_reader(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(
                           inbox_token_scheme)) -> str:
    """The recipient id of a valid inbox token; else 401."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("an inbox token is required: Authorization: Bearer <token>")
    recipient_id = verify_inbox_token(state(request).api, credentials.credentials)
    if recipient_id is None:
        raise _unauthorized("the inbox token is invalid or expired")
    return recipient_id
