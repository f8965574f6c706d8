"""Approval: a campaign with emergency priority, an audience above
``CLARION_APPROVAL_AUDIENCE_SIZE``, or from a sender whose role needs it, waits before its
fan-out for an approver — through Prefect's own pause with a typed input, so it is
approvable in the Prefect UI as in the console (the person who asked may reject, i.e.
withdraw, but not approve).  Unanswered within
``CLARION_APPROVAL_TIMEOUT_S`` it ends ``cancelled``.  The approver, the time and the
comment go to the audit log; the person who asked cannot approve their own."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

from clarion import campaigns, directory
from clarion.domain import CampaignRequest, Priority
from clarion.settings import Settings
from clarion.store import audit
from clarion.store import console as sql
from clarion.store.db import Store
from clarion.tasks.common import context

log = logging.getLogger(__name__)


class ApprovalInput(RunInput):
    """The approver's answer, as the Prefect UI's form and the console's resume send it."""

    approve: bool = Field(description="approve (send it) or reject (cancel it)")
    approver: str = Field("", max_length=320, description="who decides (name or e-mail)")
    comment: str = Field("", max_length=2000)


def why_approval(store: Store, settings: Settings, campaign_id: str,
                 request: CampaignRequest) -> tuple[str | None, int]:
    """(why it must wait, or None; the audience's size)."""
    size = directory.count_audience(store, request.audience)
    if not settings.approval:
        return None, size
    asked = sql.approval(store, campaign_id) or {}
    reasons = []
    if request.priority is Priority.EMERGENCY:
        reasons.append("emergency priority")
    if size > settings.approval_audience_size:
        reasons.append(f"audience of {size} (over {settings.approval_audience_size})")
    if asked.get("requester_needs_approval"):
        reasons.append("the sender's role needs approval")
    return ("; ".join(reasons) or None), size


def _decide(store: Store, campaign_id: str, state: str, by: str | None, comment: str) -> None:
    actor = f"approver:{by}" if by else "prefect"
    sql.decide(store, campaign_id, state, by, comment or None,
               audit.entry(actor, f"campaign.{state}", campaign_id, "ok", comment or None))
    if state != "approved":
        campaigns.cancel(store, campaign_id, actor=actor)


def _is_own(answer: ApprovalInput, requester: str | None) -> bool:
    return bool(requester) and answer.approver.strip().lower() == requester.lower()


async def _answer(settings: Settings, deadline: float, round_: int) -> ApprovalInput | None:
    remaining = int(deadline - time.monotonic())
    if remaining <= 0:
        return None
    try:
        return await apause_flow_run(wait_for_input=ApprovalInput, timeout=remaining,
                                     poll_interval=settings.approval_poll_s,
                                     key=f"approval-{round_}")
    except FlowPauseTimeout:
        return None


async def await_approval(campaign_id: str, request: CampaignRequest) -> bool:
    """True once approved (or when none is needed); False when rejected or timed out (the
    campaign is then cancelled)."""
    settings, store = context()
    reason, size = await asyncio.to_thread(why_approval, store, settings, campaign_id, request)
    earlier: dict[str, Any] = await asyncio.to_thread(sql.approval, store, campaign_id) or {}
    if reason is None or earlier.get("state") in ("approved", "rejected", "timed_out"):
        return reason is None or earlier.get("state") == "approved"
    await asyncio.to_thread(sql.mark_waiting, store, campaign_id, reason, size,
                            str(flow_run.id or ""), audit.entry(
                                "prefect", "campaign.await_approval", campaign_id, "ok", reason))
    deadline = time.monotonic() + settings.approval_timeout_s
    for round_ in range(100):
        answer = await _answer(settings, deadline, round_)
        if answer is None:
            await asyncio.to_thread(_decide, store, campaign_id, "timed_out", None,
                                    "no approver answered in time")
            return False
        if answer.approve and _is_own(answer, earlier.get("requested_by")):  # withdrawing is fine
            log.warning("%s may not approve their own campaign %s", answer.approver, campaign_id)
            continue
        state = "approved" if answer.approve else "rejected"
        await asyncio.to_thread(_decide, store, campaign_id, state,
                                answer.approver.strip() or "prefect-ui", answer.comment)
        cancelled = await asyncio.to_thread(campaigns.is_cancelled, store, campaign_id)
        return answer.approve and not cancelled  # cancelled while it waited: nothing goes
    return False
