"""``/v1/receipts/{provider}``: SMS delivery reports and e-mail bounces, HMAC-signed.

A provider signs ``"{X-Clarion-Timestamp}." + body`` with its own secret
(``CLARION_RECEIPT_SECRETS='{"sms": "…"}'``), as clarion.channels.webhook does.  The name a
secret is given under is an adapter type (``aliyun_sms``: every channel of that type) or one
logical channel (``sms``); a receipt signed with it touches only those channels' deliveries,
and only once they are ``sent`` (one still queued or sending was not handed to the provider
yet: moving it would make the worker skip it unsent).  It moves them to ``delivered`` or
``failed`` with an event row; anything else is ``ignored``, and a delivery of another
provider is ``unknown``, as if it did not exist.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy import Connection, insert, update

from ...channels.registry import channel_specs
from ...channels.webhook import verify_signature
from ...settings import Settings
from ...domain import DeliveryStatus as S
from ...store.api_models import AuditEntry
from ...store.db import Store
from ...store.deliveries import now
from ...store.models import Delivery, DeliveryEvent
from .. import audit
from ..auth import refused
from ..errors import ApiError, responses
from ..schemas import Receipt, ReceiptBatch, ReceiptResult
from ..state import state

router = APIRouter(tags=["receipts"])
D, E = Delivery.__table__, DeliveryEvent.__table__
REPORTABLE = (S.SENT.value,)


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


def _apply_one(conn: Connection, receipt: Receipt, channels: list[str], actor: str,
               at: datetime) -> str:
    target = (D.c.id == receipt.delivery_id if receipt.delivery_id
              else D.c.provider_message_id == receipt.provider_message_id)
    target = target & D.c.channel.in_(channels)
    moved = conn.execute(update(D).where(target, D.c.status.in_(REPORTABLE))
                         .values(status=receipt.status, code=receipt.code,
                                 reason=receipt.reason, updated_at=at)
                         .returning(D.c.id, D.c.attempts)).all()
    for row in moved:
        conn.execute(insert(E), [{"delivery_id": row.id, "at": at, "status": receipt.status,
                                  "attempt": row.attempts, "code": receipt.code,
                                  "reason": receipt.reason, "actor": actor}])
    if moved:
        return "updated"
    exists = conn.execute(D.select().with_only_columns(D.c.id).where(target).limit(1)).first()
    return "ignored" if exists else "unknown"


def apply_receipts(store: Store, settings: Settings, provider: str, batch: ReceiptBatch
                   ) -> dict[str, int]:
    actor, at = f"receipt:{provider}", now()
    channels = provider_channels(settings, provider)
    result = {"updated": 0, "unknown": 0, "ignored": 0}
    with store.connect() as conn:
        for receipt in batch.receipts:
            result[_apply_one(conn, receipt, channels, actor, at)] += 1
        conn.execute(insert(AuditEntry), [audit.entry(actor, "receipt.apply", provider,
                                                      "ok", str(result))])
    return result


@router.post("/v1/receipts/{provider}", response_model=ReceiptResult,
             responses=responses(401, 404, 413, 422))
async def receive_receipts(batch: ReceiptBatch, request: Request,
                           provider: str = Depends(signed_by_provider)):
    """Delivery reports from a provider (signed with HMAC-SHA256)."""
    st = state(request)
    return await asyncio.to_thread(apply_receipts, st.store, st.settings, provider, batch)
