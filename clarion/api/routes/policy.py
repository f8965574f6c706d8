"""``/v1/categories`` and ``/v1/rules``: the site's delivery policy, read by any key and
changed by keys with the ``policy`` ability (each change audited)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from ...errors import NotFound, Rejected
from ...planning import config
from ...planning.categories import NAME_PATTERN, CategoryPolicy, CategorySettings
from ...planning.routing import RuleSpec
from ...security import Principal
from ...store import policy as sql
from .. import permissions
from ..auth import caller
from ..errors import AUTHED, refused, responses
from ..schemas import CategoryList, RuleList, RuleView
from ..state import state

router = APIRouter(tags=["policy"])
Source = Query("*", min_length=1, max_length=64, description="a producing system, or *")


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except (Rejected, NotFound) as exc:
        raise refused(exc) from exc


@router.get("/v1/categories", response_model=CategoryList, responses=responses(401, 429))
async def list_categories(request: Request, _principal: Principal = Depends(caller)):
    """Every category and its policy (quiet hours, caps, duplicates, digest, opt-out)."""
    cats = await _run(config.list_categories, state(request).store)
    return {"items": [c.model_dump() for c in cats]}


@router.put("/v1/categories/{name}", response_model=CategorySettings,
            responses=responses(*AUTHED))
async def put_category(body: CategoryPolicy, request: Request,
                       name: str = Path(min_length=1, max_length=64, pattern=NAME_PATTERN),
                       principal: Principal = Depends(caller)):
    """Create or replace a category's policy."""
    permissions.check_ability(principal, "policy")
    category = CategorySettings(name=name, **body.model_dump())
    await _run(config.set_category, state(request).store, category, principal.actor)
    return category


@router.get("/v1/rules", response_model=RuleList, responses=responses(401, 429))
async def list_rules(request: Request, _principal: Principal = Depends(caller)):
    """Every routing rule."""
    return {"items": await _run(sql.rules, state(request).store)}


@router.get("/v1/rules/{category}", response_model=RuleView, responses=responses(401, 404, 429))
async def get_rule(category: str, request: Request, source: str = Source,
                   _principal: Principal = Depends(caller)):
    return await _run(config.show_rule, state(request).store, category, source)


@router.put("/v1/rules/{category}", response_model=RuleView, responses=responses(*AUTHED))
async def put_rule(category: str, body: RuleSpec, request: Request,
                   principal: Principal = Depends(caller)):
    """Create or replace the rule of (category, body.source)."""
    permissions.check_ability(principal, "policy")
    st = state(request)
    await _run(config.set_rule, st.store, st.settings, category, body, principal.actor)
    return await _run(config.show_rule, st.store, category, body.source)


@router.delete("/v1/rules/{category}", status_code=204, responses=responses(*AUTHED, 404))
async def delete_rule(category: str, request: Request, source: str = Source,
                      principal: Principal = Depends(caller)):
    permissions.check_ability(principal, "policy")
    await _run(config.delete_rule, state(request).store, category, source, principal.actor)
