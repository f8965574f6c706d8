"""People's preferences: their own, through the campus app (``/v1/inbox/preferences``,
inbox token), and anyone's within a key's audiences, for systems with the ``preferences``
ability (``/v1/preferences/{recipient_id}``).  Critical categories cannot be opted out of.
A person also chooses, for themselves only, whether what they do may be learned from
(``profiling``); staff see that choice but cannot make it for them."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request

from ...errors import NotFound, Rejected
from ...planning import config
from ...planning.config import MyChoices, PreferenceChange, PreferenceSpec
from ...security import Principal
from ...directory import people_by_id
from .. import permissions
from ..auth import caller, inbox_reader
from ..errors import AUTHED, ApiError, refused, responses
from ..schemas import PreferenceView
from ..state import ApiState, state

router = APIRouter(tags=["preferences"])


def _view(st: ApiState, recipient_id: str) -> dict[str, Any]:
    return config.choices_view(st.store, recipient_id)


def _change(st: ApiState, recipient_id: str, preferences: list[PreferenceSpec] | None,
            profiling: bool | None, actor: str) -> dict[str, Any]:
    config.set_choices(st.store, st.settings, recipient_id, preferences, profiling, actor)
    return _view(st, recipient_id)


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except (Rejected, NotFound) as exc:
        raise refused(exc) from exc


@router.get("/v1/inbox/preferences", response_model=PreferenceView,
            responses=responses(401, 404))
async def my_preferences(request: Request, recipient_id: str = Depends(inbox_reader)):
    """What I receive: per category, my choices (and which I cannot opt out of)."""
    return await _run(_view, state(request), recipient_id)


@router.put("/v1/inbox/preferences", response_model=PreferenceView,
            responses=responses(401, 404, 422))
async def change_my_preferences(body: MyChoices, request: Request,
                                recipient_id: str = Depends(inbox_reader)):
    """Opt in or out of categories, on a channel or on all (``*``); and of profiling
    (``"profiling": false``: what I do is no longer recorded or learned from, and what was
    is forgotten)."""
    return await _run(_change, state(request), recipient_id, body.preferences, body.profiling,
                      f"recipient:{recipient_id}")


def _reachable(st: ApiState, principal: Principal, recipient_id: str) -> None:
    """Someone this key may reach (an unknown id and one outside answer the same)."""
    person = people_by_id(st.store, [recipient_id]).get(recipient_id)
    if person is None or not principal.scopes.allows_recipient(person):
        raise ApiError(404, "not_found", f"no recipient {recipient_id!r} within this key's "
                       "audiences", "recipient_id")


@router.get("/v1/preferences/{recipient_id}", response_model=PreferenceView,
            responses=responses(*AUTHED, 404))
async def preferences_of(recipient_id: str, request: Request,
                         principal: Principal = Depends(caller)):
    permissions.check_ability(principal, "preferences")
    st = state(request)
    await asyncio.to_thread(_reachable, st, principal, recipient_id)
    return await _run(_view, st, recipient_id)


@router.put("/v1/preferences/{recipient_id}", response_model=PreferenceView,
            responses=responses(*AUTHED, 404))
async def change_preferences_of(recipient_id: str, body: PreferenceChange, request: Request,
                                principal: Principal = Depends(caller)):
    """Staff or a system changes someone's choices (audited with the key)."""
    permissions.check_ability(principal, "preferences")
    st = state(request)
    await asyncio.to_thread(_reachable, st, principal, recipient_id)
    return await _run(_change, st, recipient_id, body.preferences, None, principal.actor)

