"""``/v1/receipts/{provider}``: SMS delivery reports and e-mail bounces, HMAC-signed.

A provider signs ``"{X-Clarion-Timestamp}." + body`` with its own secret
(``CLARION_RECEIPT_SECRETS='{"sms": "…"}'``), as clarion.channels.webhook does.  The name a
secret is given under is an adapter type (``aliyun_sms``: every channel of that type) or one
logical channel (``sms``); a receipt signed with it touches only those channels' deliveries,
and only once they are ``sent`` (one still queued or sending was not handed to the provider
yet: moving it would make the worker skip it unsent).  It moves them to ``delivered`` or
``failed`` with an event row; anything else is ``ignored``, and a delivery of another
provider is ``unknown``, as if it did not exist.  A report of delivery is also an engagement
signal ``delivered``, an e-mail's failure ``bounced`` (clarion.planning.engagement: only for
people who allow profiling), recorded in the same transaction.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Header, Request

from ...channels.registry import channel_specs
from ...channels.webhook import verify_signature
from ...planning import engagement
from ...settings import Settings
from ...store import audit as store_audit
from ...store import receipts as receipts_sql
from ...store.db import Store
from ...store.deliveries import now
from .. import audit
from ..auth import refused
from ..errors import ApiError, responses
from ..schemas import ReceiptBatch, ReceiptResult
from ..state import state

router = APIRouter(tags=["receipts"])


def provider_channels(settings: Settings, provider: str) -> list[str]:
    """The channels whose deliveries ``provider``'s receipts may touch."""
    return sorted(name for name, spec in channel_specs(settings).items()
                  if spec["type"] == provider or name == provider)


async def signed_by_provider(provider: str, request: Request,
                             x_clarion_timestamp: str | None = Header(None, max_length=20),
                             x_clarion_signature: str | None = Header(None, max_length=200)
                             ) -> str:
    secret = state(request).api.receipt_secrets.get(provider)
    if secret is None:
        raise ApiError(404, "not_found", f"no receipts are taken from {provider!r}", "provider")
    body = await request.body()
    if not verify_signature(secret.get_secret_value(), x_clarion_timestamp, body,
                            x_clarion_signature):
        raise refused(request, f"receipt:{provider}", ApiError(
            401, "bad_signature", "the signature or timestamp is not valid",
            "X-Clarion-Signature"))
    return provider


def apply_receipts(store: Store, settings: Settings, provider: str, batch: ReceiptBatch
                   ) -> dict[str, int]:
    """Apply the batch, record what it tells of engagement (for people who allow
    profiling) and audit it, in one transaction."""
    actor, at = f"receipt:{provider}", now()
    channels = provider_channels(settings, provider)
    kinds = {name: spec["type"] for name, spec in channel_specs(settings).items()}
    result = {"updated": 0, "unknown": 0, "ignored": 0}
    signals: dict[str, list[dict[str, Any]]] = {}
    with store.connect() as conn:
        for receipt in batch.receipts:
            outcome, moved = receipts_sql.apply_receipt_in(conn, receipt.model_dump(), channels,
                                                           actor, at)
            result[outcome] += 1
            for row in moved:
                kind = engagement.receipt_signal(receipt.status, kinds.get(row["channel"], ""))
                if kind is not None:
                    signals.setdefault(kind, []).append(row)
        for kind, rows in signals.items():
            engagement.record_in(conn, settings, rows, kind, at)
        store_audit.add(conn, audit.entry(actor, "receipt.apply", provider, "ok", str(result)))
    return result


@router.post("/v1/receipts/{provider}", response_model=ReceiptResult,
             responses=responses(401, 404, 413, 422))
async def receive_receipts(batch: ReceiptBatch, request: Request,
                           provider: str = Depends(signed_by_provider)):
    """Delivery reports from a provider (signed with HMAC-SHA256)."""
    st = state(request)
    return await asyncio.to_thread(apply_receipts, st.store, st.settings, provider, batch)
