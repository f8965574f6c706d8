"""Who is calling: an API key (systems) or an inbox token (the campus app); rate limits.

Every refusal here (401, 429) is noted in the audit trail, with the path and the caller's
address, never the key or token presented.
"""

from __future__ import annotations

import asyncio
import math

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..security import InboxReader, Principal, read_inbox_token, verify_key
from . import audit, idempotency
from .errors import ApiError
from .state import ApiState, state

api_key_scheme = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                            description="an API key: clk_…")
inbox_token_scheme = HTTPBearer(auto_error=False, scheme_name="InboxToken",
                                description="a recipient's inbox token")


def refused(request: Request, actor: str, error: ApiError) -> ApiError:
    """``error``, noted in the audit trail first."""
    client = request.client.host if request.client else "?"
    detail = f"{request.method} {request.url.path} from {client}: {error.message}"
    state(request).audit_trail.note(audit.entry(actor, "auth", request.url.path,
                                                f"refused:{error.status}", detail))
    return error


def _unauthorized(request: Request, message: str) -> ApiError:
    return refused(request, "unknown", ApiError(401, "unauthorized", message, "Authorization",
                                                {"WWW-Authenticate": "Bearer"}))


async def caller(request: Request,
                 credentials: HTTPAuthorizationCredentials | None = Depends(api_key_scheme)
                 ) -> Principal:
    """The principal of a valid API key, within its rate; else 401 or 429."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized(request, "an API key is required: Authorization: Bearer clk_…")
    st: ApiState = state(request)
    principal = await asyncio.to_thread(verify_key, st.store, st.api, credentials.credentials)
    if principal is None:
        raise _unauthorized(request, "the API key is unknown or revoked")
    wait = await _rate_wait(st, principal, request.headers.get("Idempotency-Key"))
    if wait is not None:
        raise refused(request, principal.actor, ApiError(
            429, "rate_limited", f"over this key's rate of {principal.rate:g}/s", None,
            {"Retry-After": str(max(1, math.ceil(wait)))}))
    return principal


async def _rate_wait(st: ApiState, principal: Principal, idempotency_key: str | None
                     ) -> float | None:
    """Seconds until this key may call again; None when it may now.  A repeat of an
    Idempotency-Key creates nothing and so costs nothing (``ratelimit``)."""
    if idempotency_key and await asyncio.to_thread(idempotency.seen, st.store,
                                                   principal.key_id, idempotency_key):
        return None
    return st.limiter.take(principal.key_id, principal.rate, ticket=idempotency_key)


async def inbox_session(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Depends(
                            inbox_token_scheme)) -> InboxReader:
    """The reader of a valid inbox token (with its expiry); else 401."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized(request, "an inbox token is required: Authorization: Bearer <token>")
    reader = read_inbox_token(state(request).api, credentials.credentials)
    if reader is None:
        raise _unauthorized(request, "the inbox token is invalid or expired")
    return reader


async def inbox_reader(reader: InboxReader = Depends(inbox_session)) -> str:
    """The recipient id of a valid inbox token; else 401."""
    return reader.recipient_id
