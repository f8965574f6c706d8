"""Fallback: a delivery that fails for good hands the notice to the next channel of its
route (e.g. WeCom → SMS → email).

The route was decided when the notice was planned (clarion.planning.policy): the channels
the person can be reached on and has not opted out of, each rendered then, travel with the
first delivery (``deliveries.fallback``).  When the worker records a ``failed`` result it
calls ``following`` in the same transaction: the next delivery is born ``pending``, pointing
to the one that failed (``fallback_of``), and both traces say why; the worker then publishes
it (``send_next``).  A delivery that was sent never falls back, so nobody gets the notice
twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..broker.publisher import ConfirmingPublisher
from ..domain import DeliveryStatus as S
from ..domain import delivery_id_for
from ..store import waiting
from ..store.db import Store
from ..store.protocol import Outcome, Write
from . import handoff


def following(store: Store, record: Write, failed: Sequence[Outcome], actor: str) -> Write:
    """``record`` (a worker's results), then the next deliveries of those that failed and
    have a route left; the write returns those new deliveries."""
    why = {o.id: " ".join(p for p in (o.code, o.reason) if p) or "failed" for o in failed}

    def write(conn: Any) -> list[dict[str, Any]]:
        record(conn)
        at = datetime.now(timezone.utc)
        nexts = [_next(r, why[r["id"]], at) for r in store.fallback_routes(conn, list(why))]
        if nexts:
            store.insert_deliveries(nexts, actor)(conn)
            waiting.note(conn, [{"delivery_id": n["fallback_of"], "at": at,
                                 "status": S.FAILED.value, "attempt": 0, "code": "fallback",
                                 "reason": f"fallback to {n['channel']}: {n['id']}",
                                 "actor": actor} for n in nexts])
        return nexts
    return write


def _next(failed: dict[str, Any], why: str, at: datetime) -> dict[str, Any]:
    step, *rest = failed["fallback"]
    owner = failed["campaign_id"] or failed["message_id"]
    return {
        "id": delivery_id_for(owner, failed["recipient_id"], step["channel"]),
        "campaign_id": failed["campaign_id"], "message_id": failed["message_id"],
        "recipient_id": failed["recipient_id"], "channel": step["channel"],
        "address": step["address"], "content": step["content"],
        "category": failed["category"], "priority": failed["priority"],
        "source": failed["source"], "status": S.PENDING.value, "code": "fallback",
        "reason": f"fallback from {failed['channel']} ({failed['id']}): {why}",
        "release_at": at, "content_hash": failed["content_hash"], "fallback": rest or None,
        "fallback_of": failed["id"], "digest_id": None, "created_at": at}


async def send_next(store: Store, publisher: ConfirmingPublisher,
                    nexts: list[dict[str, Any]], actor: str) -> int:
    """Publish the next deliveries (born ``pending``) and mark them queued."""
    reasons = {n["id"]: f"published: fallback from {n['fallback_of']}" for n in nexts}
    return await handoff.release(store, publisher, nexts, reasons,
                                 datetime.now(timezone.utc), actor, taken=True)
