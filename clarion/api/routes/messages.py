"""``/v1/messages``: transactional messages, straight onto the delivery queue."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Header, Request

from ... import campaigns, transactional
from ...broker.amqp import BrokerUnavailable
from ...campaigns import CampaignRejected
from ...security import Forbidden, Principal
from .. import audit, idempotency, permissions
from ..auth import caller
from ..errors import AUTHED, ApiError, responses
from ..schemas import MessageAccepted, MessageInfo
from ..state import ApiState, state

router = APIRouter(prefix="/v1/messages", tags=["messages"])
IdempotencyKey = Header(None, alias="Idempotency-Key", min_length=1, max_length=200)


def advice_notes(advice: Any) -> list[dict]:
    """What the sender should know of the category: how it was suggested, or a flag."""
    if advice is None:
        return []
    message = advice.flag or f"category {advice.category} suggested: {advice.reason}"
    return [{"field": "category", "message": message}]


def rejected(exc: CampaignRejected) -> ApiError:
    return ApiError(422, "rejected", exc.message, exc.field)


async def _send(st: ApiState, principal: Principal, body: transactional.MessageRequest,
                message_id: str, fresh: bool) -> tuple[int, dict]:
    if body.category != "auto":
        permissions.check_request(principal, body)
    try:
        body, advice = await asyncio.to_thread(_categorised, st, principal, body)
        plan = await asyncio.to_thread(transactional.plan, st.store, st.settings, body,
                                       principal.system, principal.scopes)
        row = audit.entry(principal.actor, "message.create", message_id, "ok",
                          f"{len(plan.recipients)} recipients, {','.join(plan.route.channels)}")
        n = await transactional.deliver(st.store, st.settings, await st.publisher.get(), plan,
                                        message_id, key_id=principal.key_id, audit=row,
                                        fresh=fresh)
    except Forbidden as exc:
        raise permissions.forbidden(exc) from exc
    except transactional.Unreachable as exc:
        status = 422 if principal.scopes.any_audience else 403
        raise ApiError(status, "rejected" if status == 422 else "forbidden", exc.message,
                       exc.field) from exc
    except CampaignRejected as exc:
        raise rejected(exc) from exc
    except (BrokerUnavailable, OSError, asyncio.TimeoutError) as exc:
        st.publisher.discard()
        raise ApiError(503, "broker_unavailable", "the delivery queue is unavailable; retry "
                       "with the same Idempotency-Key", None, {"Retry-After": "5"}) from exc
    return 202, {"message_id": message_id, "deliveries": n, "category": body.category,
                 "warnings": advice_notes(advice)}


def _categorised(st: ApiState, principal: Principal, body: transactional.MessageRequest
                 ) -> tuple[transactional.MessageRequest, Any]:
    """The message with a category ("auto": suggested), inside the key's scopes; and what
    the sender should know of it."""
    body, advice = campaigns.with_category(st.store, body)
    permissions.check_request(principal, body)
    return body, advice or campaigns.flag(st.store, body)


@router.post("", status_code=202, response_model=MessageAccepted,
             responses=responses(*AUTHED, 409, 503))
async def create_message(body: transactional.MessageRequest, request: Request,
                         principal: Principal = Depends(caller),
                         idempotency_key: str | None = IdempotencyKey):
    """Send one message to up to 1,000 recipients (ids, or raw sms/email addresses)."""
    st = state(request)
    message_id = transactional.new_message_id(principal.key_id, idempotency_key)
    digest = idempotency.request_hash("POST", "/v1/messages", await request.body())
    work = lambda: _send(st, principal, body, message_id,  # noqa: E731
                         fresh=idempotency_key is None)  # a random id: nothing to find
    return await audit.noting_refusals(
        st.store, principal.actor, "message.create",
        idempotency.once(st.store, principal.key_id, idempotency_key, digest, work,
                         st.api.idempotency_wait_seconds))


@router.get("/{message_id}", response_model=MessageInfo, responses=responses(401, 404, 429))
async def get_message(message_id: str, request: Request, principal: Principal = Depends(caller)):
    """The message and its deliveries' counts per channel."""
    info = await asyncio.to_thread(transactional.status, state(request).store, message_id)
    if info is None or info["api_key_id"] != principal.key_id:
        raise ApiError(404, "not_found", f"no message {message_id!r}", "message_id")
    return info
