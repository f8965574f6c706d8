"""The campus app's in-app inbox: one row per message, written in one call per batch.

The worker hands over ``deps.inbox_writer`` (a bulk insert into ``inbox_messages``); this
module only shapes the rows, so it stays free of the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..content_limits import is_web_link
from .base import (
    BaseChannel,
    ConfigurationError,
    OutboundMessage,
    RetryableError,
    SendResult,
    results_for_all,
)

if TYPE_CHECKING:
    from .registry import ChannelDeps

InboxWriter = Callable[[list[dict[str, Any]]], None]

TITLE_LIMIT = 500  # the column sizes of inbox_messages
URL_LIMIT = 2000


class InboxChannel(BaseChannel):
    name: ClassVar[str] = "inbox"
    max_batch: ClassVar[int] = 500
    local: ClassVar[bool] = True  # its rows are committed with the deliveries' results

    def __init__(self, writer: InboxWriter):
        self._writer = writer

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps) -> InboxChannel:
        if deps is None or deps.inbox_writer is None:
            raise ConfigurationError("inbox: no inbox writer was given (the worker provides it)")
        return cls(deps.inbox_writer)

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        if not messages:
            return []
        rows = [inbox_row(m) for m in messages]
        try:
            await asyncio.to_thread(self._writer, rows)
        except Exception as error:  # the writer is the database: any failure is worth a retry
            reason = f"inbox: writing {len(rows)} rows failed ({type(error).__name__})"
            return results_for_all(messages, RetryableError(reason))
        return [SendResult.sent(m.delivery_id) for m in messages]


def inbox_row(message: OutboundMessage) -> dict[str, Any]:
    content = message.content
    url = content.get("url") or None
    if url is not None and not is_web_link(url):
        url = None  # only http(s) links reach the app (content checks it before, too)
    return {
        "delivery_id": message.delivery_id,
        "recipient_id": message.recipient_id or message.address,
        "category": message.category,
        "title": (content.get("title") or content.get("subject") or "")[:TITLE_LIMIT],
        "body": content.get("body") or content.get("text") or "",
        "url": url[:URL_LIMIT] if url else None,
    }
