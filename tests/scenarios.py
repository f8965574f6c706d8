"""Helpers shared by the end-to-end scenarios."""

from __future__ import annotations

import threading
from typing import Any

from clarion import campaigns
from clarion.domain import CampaignRequest, campaign_id_for

from .conftest import run_broadcast


def sms_notice(key: str, audience: dict | None = None, priority: str = "normal",
               channels: list[str] | None = None) -> dict[str, Any]:
    return {"name": f"notice {key}", "category": "campus", "priority": priority,
            "audience": audience or {"everyone": True}, "channels": channels or ["sms"],
            "content": {"default": {"title": "Notice", "body": "Hello {{ recipient.name }}"}},
            "idempotency_key": key}


def campaign_id(request: dict[str, Any]) -> str:
    return campaign_id_for(CampaignRequest.model_validate(request).campaign_key())


class Background:
    """Run the broadcast flow in a thread while the test breaks things."""

    def __init__(self, request: dict[str, Any], wait: bool = True, timeout_s: float = 600):
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(request, wait, timeout_s),
                                       daemon=True)
        self.thread.start()

    def _run(self, request: dict[str, Any], wait: bool, timeout_s: float) -> None:
        try:
            self.result = run_broadcast(request, wait=wait, timeout_s=timeout_s)
        except BaseException as exc:  # noqa: BLE001 - re-raised in join()
            self.error = exc

    def join(self, timeout: float = 600) -> dict[str, Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the broadcast flow did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def summary(store, cid: str) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    return campaigns.get(store, cid)["channels"]


def all_final(store, cid: str) -> bool:  # type: ignore[no-untyped-def]
    s = summary(store, cid)
    return bool(s) and all(c["open"] == 0 for c in s.values())
