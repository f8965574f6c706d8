"""Who is calling: an API key (systems) or an inbox token (the campus app); rate limits."""

from __future__ import annotations

import asyncio
import math

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..security import Principal, verify_inbox_token, verify_key
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
    wait = st.limiter.take(principal.key_id, principal.rate)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"over this key's rate of {principal.rate:g}/s",
                       None, {"Retry-After": str(max(1, math.ceil(wait)))})
    return principal


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
