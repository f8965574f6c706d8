"""``/v1/campaigns``: start the broadcast flow through Prefect, follow it, cancel it."""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Depends, Request

from ... import campaigns
from ...domain import CampaignRequest
from ...planning.routing import Route
from ...security import Forbidden, Principal
from .. import audit, idempotency, permissions
from ..auth import caller
from ..errors import AUTHED, ApiError, responses
from ..schemas import CampaignCancelled, CampaignInfo, CampaignStarted
from ..state import ApiState, state
from .messages import IdempotencyKey, advice_notes, rejected

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


def _scoped(principal: Principal, body: CampaignRequest, header_key: str | None
            ) -> CampaignRequest:
    """The request as this caller's: its system as source, its keys in its own namespace."""
    key = header_key or body.idempotency_key
    if key and len(principal.key_id) + len(key) >= 200:
        key = "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return body.model_copy(update={
        "source": principal.system,
        "idempotency_key": f"{principal.key_id}:{key}" if key else None})


def _check(st: ApiState, principal: Principal, request: CampaignRequest
           ) -> tuple[CampaignRequest, Route, list[dict]]:
    """Scopes before anything is looked up, then the request; returns it (its category
    chosen, if it said "auto"), its route and what the sender should know."""
    permissions.check_campaign_ids(principal, st.store, request.audience)
    try:
        request, advice = campaigns.with_category(st.store, request)
        permissions.check_request(principal, request)
        route = campaigns.route_of(st.store, st.settings, request)
        principal.scopes.check_channels(list(route.channels))
        campaigns.prepare(st.store, st.settings, request)
    except Forbidden as exc:
        raise permissions.forbidden(exc) from exc
    except campaigns.CampaignRejected as exc:
        raise rejected(exc) from exc
    return request, route, advice_notes(advice or campaigns.flag(st.store, request))


async def _start(st: ApiState, principal: Principal, request: CampaignRequest
                 ) -> tuple[int, dict]:
    if request.category != "auto":
        permissions.check_request(principal, request)
    request, route, notes = await asyncio.to_thread(_check, st, principal, request)
    key = request.campaign_key()
    try:
        flow_run_id = await st.start_campaign({"request": request.model_dump(mode="json")}, key)
    except Exception as exc:  # noqa: BLE001 - Prefect unreachable or the deployment missing
        raise ApiError(503, "orchestrator_unavailable", "could not start the broadcast flow: "
                       f"{type(exc).__name__}", None, {"Retry-After": "10"}) from exc
    campaign_id, _ = await asyncio.to_thread(campaigns.register, st.store, request, route,
                                             flow_run_id, principal.key_id)
    row = audit.entry(principal.actor, "campaign.create", campaign_id, "ok", request.name)
    await asyncio.to_thread(audit.write, st.store, row)
    return 202, {"campaign_id": campaign_id, "flow_run_id": flow_run_id,
                 "category": request.category, "warnings": notes}


@router.post("", status_code=202, response_model=CampaignStarted,
             responses=responses(*AUTHED, 409, 503))
async def create_campaign(body: CampaignRequest, request: Request,
                          principal: Principal = Depends(caller),
                          idempotency_key: str | None = IdempotencyKey):
    """Start a campaign: checked here, then run as a Prefect flow run."""
    st = state(request)
    scoped = _scoped(principal, body, idempotency_key)
    digest = idempotency.request_hash("POST", "/v1/campaigns", await request.body())
    return await audit.noting_refusals(
        st.store, principal.actor, "campaign.create",
        idempotency.once(st.store, principal.key_id, idempotency_key, digest,
                         lambda: _start(st, principal, scoped), st.api.idempotency_wait_seconds))


def _own(st: ApiState, principal: Principal, campaign_id: str) -> dict:
    try:
        info = campaigns.get(st.store, campaign_id)
    except campaigns.CampaignNotFound:
        info = None
    if info is None or info["api_key_id"] != principal.key_id:
        raise ApiError(404, "not_found", f"no campaign {campaign_id!r}", "campaign_id")
    return info


@router.get("/{campaign_id}", response_model=CampaignInfo, responses=responses(401, 404, 429))
async def get_campaign(campaign_id: str, request: Request, principal: Principal = Depends(caller)):
    return await asyncio.to_thread(_own, state(request), principal, campaign_id)


@router.post("/{campaign_id}/cancel", response_model=CampaignCancelled,
             responses=responses(401, 404, 429))
async def cancel_campaign(campaign_id: str, request: Request,
                          principal: Principal = Depends(caller)):
    """Stop a campaign: deliveries not yet sent end skipped (cancelled)."""
    st = state(request)

    def cancel() -> int:
        _own(st, principal, campaign_id)
        skipped = campaigns.cancel(st.store, campaign_id, actor=principal.actor)
        audit.write(st.store, audit.entry(principal.actor, "campaign.cancel", campaign_id, "ok",
                                          f"{skipped} skipped"))
        return skipped
    skipped = await audit.noting_refusals(st.store, principal.actor, "campaign.cancel",
                                          asyncio.to_thread(cancel))
    return {"campaign_id": campaign_id, "skipped": skipped}

