"""A key's scopes applied to a request: 403 naming the field that goes outside them."""

from __future__ import annotations

from ..directory import stream_recipients
from ..domain import Audience, CampaignRequest
from ..security import Forbidden, Principal
from ..store.db import Store
from ..transactional import MessageRequest
from .errors import ApiError


def forbidden(exc: Forbidden) -> ApiError:
    return ApiError(403, "forbidden", exc.message, exc.field)


def check_request(principal: Principal, request: CampaignRequest | MessageRequest) -> None:
    """Category, priority and channels: checkable before touching the database."""
    try:
        principal.scopes.check_category(request.category, request.priority)
        if request.channels != "auto":  # else: once the route is known
            principal.scopes.check_channels(list(request.channels))
        if isinstance(request, CampaignRequest):
            principal.scopes.check_audience_filters(request.audience)
        elif any(t.id is None for t in request.to):
            principal.scopes.check_addresses()
    except Forbidden as exc:
        raise forbidden(exc) from exc


def check_campaign_ids(principal: Principal, store: Store, audience: Audience) -> None:
    """Every listed id must be someone the key may reach."""
    if not audience.ids or principal.scopes.any_audience:
        return
    for chunk in stream_recipients(store, Audience(ids=audience.ids), chunk=2000):
        outside = [p["id"] for p in chunk if not principal.scopes.allows_recipient(p)]
        if outside:
            raise ApiError(403, "forbidden", f"{len(outside)} or more of the ids are outside "
                           f"this key's audiences (first: {outside[0]})", "audience.ids")


def check_ability(principal: Principal, ability: str) -> None:
    """Beyond sending (changing policy, people's preferences): the key must have it."""
    try:
        principal.scopes.check_ability(ability)
    except Forbidden as exc:
        raise forbidden(exc) from exc
