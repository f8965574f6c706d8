"""Digests: a category's deliveries for a person collect for a period (policy defers them
with code ``digest`` until the person's next digest time), then one message per person and
channel lists them — the library's new arrivals as one weekly message per reader.

Run by the ``digests`` flow (hourly) and ``clarion digest send``.  Each digest is a
delivery of its own (a message, ``source`` ``digest:<category>``), rendered from the stored
template ``digest-<category>`` if there is one, else from the built-in one below; its items
end ``skipped`` with code ``digested``, pointing to it (``digest_id``), so the trace of each
item still shows where it went.  Safe to repeat: a digest's id derives from the category,
the hour of the run, the person and the channel.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from .. import content
from ..broker.publisher import ConfirmingPublisher, open_publisher
from ..channels.registry import channel_specs
from ..domain import DeliveryStatus, Priority
from ..settings import Settings
from ..store import deliveries, waiting
from ..store import policy as policy_sql
from ..store.api_models import Message
from ..store.db import Store
from . import clock, handoff
from .categories import CategorySettings
from .notice import notice_for, row_maker
from .policy import Decision
from .routing import Route

PAGE = 20_000  # items per step
BUILT_IN = {
    "default": {
        "title": "{{ category }}: {{ items|length }} new",
        "body": "{% for item in items %}{{ loop.index }}. {{ item.title }}\n{% endfor %}"},
    "email": {
        "subject": "{{ category }}: {{ items|length }} new",
        "text": "{% for item in items %}{{ loop.index }}. {{ item.title }}\n"
                "{% if item.body %}   {{ item.body|truncate(200) }}\n{% endif %}{% endfor %}",
        "html": "<ol>{% for item in items %}<li><b>{{ item.title }}</b>"
                "{% if item.body %}<br>{{ item.body|truncate(200) }}{% endif %}</li>"
                "{% endfor %}</ol>"},
    "sms": {"text": "{{ category }}: {{ items|length }} new — {{ items[0].title }}…"},
}


@dataclass
class DigestReport:
    digests: int = 0
    items: int = 0
    by_category: dict[str, int] = field(default_factory=dict)


def _variants(store: Store, category: str) -> dict[str, Any]:
    try:
        return content.load_template(store, f"digest-{category}")
    except content.ContentError:
        return BUILT_IN


def _item(row: dict[str, Any]) -> dict[str, str]:
    c = row["content"] or {}
    return {"title": c.get("title") or c.get("subject") or "",
            "body": c.get("body") or c.get("text") or "", "url": c.get("url") or ""}


class DigestRun:
    """One category's digests at one moment."""

    def __init__(self, store: Store, settings: Settings, category: CategorySettings,
                 now: datetime):
        self.store, self.settings, self.category, self.now = store, settings, category, now
        self.message_id = "g_" + f"{category.name}_{now:%Y%m%d%H}"[:38]
        self.variants = _variants(store, category.name)
        self.kinds = {c: spec["type"] for c, spec in channel_specs(settings).items()}
        self._compiled: dict[str, content.CompiledContent] = {}

    def compiled(self, channel: str) -> content.CompiledContent:
        if channel not in self._compiled:
            self._compiled[channel] = content.compile_content(self.variants, [channel],
                                                              self.kinds)
        return self._compiled[channel]

    def rows_for(self, items: list[dict[str, Any]]) -> tuple[list[dict], dict[str, str]]:
        """Digest rows for a page of items (whole people), and item id → its digest."""
        rows, digested = [], {}
        for (rid, channel), group in groupby(items, key=lambda r: (r["recipient_id"],
                                                                    r["channel"])):
            group = list(group)
            row = self._digest_row(rid, channel, group)
            rows.append(row)
            digested.update({i["id"]: row["id"] for i in group})
        return rows, digested

    def _digest_row(self, rid: str, channel: str, items: list[dict[str, Any]]) -> dict:
        listed = [_item(i) for i in items]
        bound = self.compiled(channel).bind({"items": listed, "count": len(listed),
                                    "category": self.category.description or
                                    self.category.name})
        route = Route((channel,), "all")
        notice = notice_for(self.settings, self.category, Priority.NORMAL, route,
                            self.variants, {"items": [i["id"] for i in items]},
                            message_id=self.message_id)
        maker = row_maker(self.settings, notice, lambda ch, p: bound.render(ch, p),
                          f"digest:{self.category.name}", self.now)
        person = {"id": rid, notice.address_fields[channel]: items[-1]["address"]}
        row = maker.row(person, Decision(channel, DeliveryStatus.PENDING.value,
                                         reason=f"digest of {len(items)} items"))
        return {**row, "release_at": self.now}


def _store_page(store: Store, run: DigestRun, rows: list[dict], digested: dict[str, str]
                ) -> None:
    """The digests and their items' new state, in one transaction."""
    actor = f"digest:{run.category.name}"
    with store.connect() as conn:
        conn.execute(deliveries.insert_ignore(conn, Message.__table__),
                     [{"id": run.message_id, "api_key_id": None, "source": actor,
                       "category": run.category.name, "priority": "normal",
                       "channels": {"names": sorted({r["channel"] for r in rows})},
                       "recipients": 0, "deliveries": 0}])
        store.insert_deliveries(rows, actor)(conn)
        waiting.mark_digested(conn, digested, run.now, actor)
        policy_sql.bump_counters(conn, {"digested": len(digested)})


async def _run_category(store: Store, settings: Settings, category: CategorySettings,
                        now: datetime, publisher: ConfirmingPublisher) -> tuple[int, int]:
    run = await asyncio.to_thread(DigestRun, store, settings, category, now)
    after, digests, items = None, 0, 0
    while True:
        page = await asyncio.to_thread(waiting.digest_items, store, category.name, now, after,
                                       PAGE)
        if not page:
            return digests, items
        rows, digested = run.rows_for(page)
        await asyncio.to_thread(_store_page, store, run, rows, digested)
        await handoff.release(store, publisher, rows, {}, now, f"digest:{category.name}",
                              taken=True)
        digests, items, after = digests + len(rows), items + len(digested), page[-1][
            "recipient_id"]


async def send_digests(store: Store, settings: Settings, category: str | None = None,
                       now: datetime | None = None) -> DigestReport:
    """Every digest due by ``now`` (the planning clock by default)."""
    now = now or clock.now()
    cats = [CategorySettings.from_row(r) for r in policy_sql.categories(store).values()]
    chosen = [c for c in cats if c.digest and category in (None, c.name)]
    report = DigestReport()
    if not chosen:
        return report
    publisher = await open_publisher(settings, list(channel_specs(settings)))
    try:
        for cat in chosen:
            n, m = await _run_category(store, settings, cat, now, publisher)
            report.digests, report.items = report.digests + n, report.items + m
            report.by_category[cat.name] = n
    finally:
        await publisher.amqp.close()
    await asyncio.to_thread(waiting.finish_waiting_campaigns, store, now)
    return report
