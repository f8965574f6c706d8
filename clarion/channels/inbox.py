"""The campus app's in-app inbox: one row per message in ``inbox_messages``.

A local channel: nothing leaves the process, so the worker's pipeline writes the rows this
module shapes (``rows``) in the same transaction that claims the deliveries and records them
``sent`` — no row without its ``sent``, no ``sent`` without its row.  The module stays free
of the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..content_limits import is_web_link
from .base import (
    BaseChannel,
    ConfigurationError,
    OutboundMessage,
    SendResult,
    results_for_all,
)

if TYPE_CHECKING:
    from .registry import ChannelDeps

TITLE_LIMIT = 500  # the column sizes of inbox_messages
URL_LIMIT = 2000


class InboxChannel(BaseChannel):
    name: ClassVar[str] = "inbox"
    max_batch: ClassVar[int] = 500
    local: ClassVar[bool] = True  # its rows are committed with the deliveries' results

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deps: ChannelDeps) -> InboxChannel:
        return cls()

    def rows(self, messages: Sequence[OutboundMessage]) -> list[dict[str, Any]]:
        """The inbox rows of ``messages``, one each, for the worker to write."""
        return [inbox_row(m) for m in messages]

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Never a send of its own: the worker writes ``rows`` with the record."""
        error = ConfigurationError("inbox: written by the worker's pipeline, not sent")
        return results_for_all(messages, error)


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
