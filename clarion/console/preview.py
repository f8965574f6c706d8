"""What a notice will look like: each channel's text rendered for a sample recipient, with
an SMS's length and segment count."""

from __future__ import annotations

from typing import Any

from .. import campaigns, directory
from ..channels.registry import channel_specs
from ..content import SMS_KINDS
from ..domain import CampaignRequest
from ..settings import Settings
from ..store.db import Store

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMN"
           "OPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("^{}\\[~]|€")


def sms_segments(text: str) -> tuple[int, int, str]:
    """(length, segments, encoding): GSM-7 160/153 a part, else UCS-2 70/67."""
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        length = len(text) + sum(c in GSM7_EXT for c in text)
        return length, 1 if length <= 160 else -(-length // 153), "GSM-7"
    length = len(text.encode("utf-16-le")) // 2
    return length, 1 if length <= 70 else -(-length // 67), "UCS-2"


def preview(store: Store, settings: Settings, request: CampaignRequest) -> dict[str, Any]:
    """{count, sample, channels: {channel: {kind, fields, sms?}}}; raises CampaignRejected."""
    prepared = campaigns.prepare(store, settings, request)
    sample = directory.sample_recipient(store, request.audience) or {}
    kinds = {c: s["type"] for c, s in channel_specs(settings).items()}
    out: dict[str, Any] = {}
    for channel in prepared.route.channels:
        fields = prepared.compiled.render(channel, sample, request.variables)
        item: dict[str, Any] = {"kind": kinds.get(channel, channel), "fields": fields}
        if kinds.get(channel) in SMS_KINDS:
            item["sms"] = sms_segments(fields.get("text", ""))
        out[channel] = item
    return {"count": prepared.audience_size, "sample": sample, "channels": out,
            "route": prepared.route}
