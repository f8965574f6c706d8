"""Texts for short channels: where a notice gives a long body but no SMS or push text, derive
one — an extractive summary (clarion.intelligence.summarize) that fits one SMS segment (70
characters of UCS-2, 160 of GSM-7) or the channel's ``summary_limit``, keeping every date,
time, number and link of the sentences it keeps.  The template's ``{{ … }}`` expressions are
kept whole (rendered per person afterwards); a body with ``{% … %}`` statements is left as
it is.  Shown to the sender before sending (``clarion campaign send --preview``, the
console's Compose).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..content import SMS_KINDS

PUSH_KINDS = frozenset({"webpush", "fcm"})
PUSH_LIMIT = 120  # characters a lock screen shows of a push body
EXPRESSION = re.compile(r"\{\{.*?\}\}", re.S)


def _limit(kind: str, spec: Mapping[str, Any]) -> int | None:
    if spec.get("summary_limit"):
        return int(spec["summary_limit"])
    return PUSH_LIMIT if kind in PUSH_KINDS else None  # SMS: one segment of the text's code


@lru_cache(maxsize=256)
def summary_of(body: str, title: str, limit: int | None) -> str:
    """The summary of a template body, its expressions kept whole."""
    from ..intelligence.summarize import summarize
    expressions = EXPRESSION.findall(body)
    masked = body
    for i, expression in enumerate(expressions):
        masked = masked.replace(expression, f"⟨{chr(0x41 + i % 26)}{i}⟩", 1)
    text = summarize(masked, title, limit).text
    for i, expression in enumerate(expressions):
        text = text.replace(f"⟨{chr(0x41 + i % 26)}{i}⟩", expression)
    return text


def _fitting(body: str, limit: int | None, reserve: int) -> int | None:
    """The limit a summary must fit (None: the body fits as it is, or cannot be cut)."""
    from ..intelligence.summarize.sms import segment_limit, sms_length
    if not body or "{%" in body:
        return None
    room = (limit or segment_limit(body)) - reserve
    return room if sms_length(EXPRESSION.sub("", body)) > room else None


def with_short_texts(variants: dict[str, dict[str, Any]], channels: list[str],
                     specs: Mapping[str, Mapping[str, Any]], reserve: int = 0
                     ) -> tuple[dict, list[str]]:
    """``variants`` plus a derived one for each short channel that needs it; and the
    channels given a derived text.  ``reserve``: characters an SMS must keep free (the
    category's opt-out hint)."""
    default = variants.get("default") or {}
    body, title = default.get("body") or "", default.get("title") or ""
    out, derived = dict(variants), []
    for channel in channels:
        kind = specs[channel]["type"]
        short = kind in SMS_KINDS or kind in PUSH_KINDS
        if not short or channel in variants or default.get("text"):
            continue
        room = _fitting(body, _limit(kind, specs[channel]),
                        reserve if kind in SMS_KINDS else 0)
        if room is None:
            continue
        text = summary_of(body, title, room)
        out[channel] = {"text": text} if kind in SMS_KINDS else {"title": title, "body": text}
        derived.append(channel)
    return out, derived
