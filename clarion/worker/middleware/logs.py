"""Log lines of a worker: failures and retries (sends are counted, not logged), pauses."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ...broker.message import DeliveryMessage
from ..decide import Decision
from .base import Middleware

log = logging.getLogger("clarion.worker")


class Logging(Middleware):
    def after_record(self, channel: str, decision: Decision,
                     messages: Mapping[str, DeliveryMessage]) -> None:
        for rec in decision.record:
            if rec.status == "sent":
                continue
            msg = messages[rec.id]
            log.info("delivery %s: %s", rec.status, rec.reason or rec.code or "",
                     extra={"delivery_id": rec.id, "campaign_id": msg.campaign_id,
                            "channel": channel, "code": rec.code, "attempt": rec.attempt})

    def after_pause(self, channel: str, seconds: float) -> None:
        log.warning("channel %s paused for %.0fs (account stopped)", channel, seconds)
