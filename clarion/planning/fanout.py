"""Fan-out of one (campaign, channel, segment): the planning pipeline for a campaign.

Page after page of the segment's recipients: read them and their policy facts, decide (once
per page for every channel of the route: the channels' fan-outs share pages), make this
channel's rows, store what is new, publish what is queued — in bundles (``fanout_bundle``
deliveries to an AMQP message), each delivery keeping its own row, claim, result and retry.
A bundle the broker refuses leaves its deliveries ``failed`` (``publish_refused``), counted
with the campaign's other failures; the rest of the page still goes out.

Safe to repeat: deliveries are keyed per campaign × recipient × channel; a repeated run
inserts only what is new and publishes again only what is not yet sent.  A delivery
published twice is sent once, because the worker claims it before sending.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import campaigns, directory
from ..broker.publisher import ConfirmingPublisher, open_publisher
from ..domain import DeliveryStatus
from ..settings import Settings
from ..store import policy as policy_sql
from ..store.db import Store
from . import clock, handoff
from .facts import read_facts
from .notice import load_category, notice_for, row_maker
from .pages import PAGES
from .policy import Decision, Policy

# test hook: called with the number published so far after each published chunk
FaultHook = Callable[[int], None]
FIRST_CHUNK = 200  # a small first chunk: the first deliveries leave within moments
QUEUED = DeliveryStatus.QUEUED.value


@dataclass
class FanoutReport:
    channel: str
    created: int = 0
    published: int = 0  # confirmed by the broker
    refused: int = 0  # refused by the broker: failed, publish_refused
    skipped: int = 0
    deferred: int = 0
    chunks: int = 0
    first_publish_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    people: list[dict[str, Any]]
    decisions: list[list[Decision]]  # per person, for every channel of the route


class CampaignPlan:
    """One campaign's notice, policy and row maker, as one fan-out task sees them."""

    def __init__(self, store: Store, settings: Settings, campaign_id: str):
        request, route = campaigns.load(store, campaign_id)
        compiled = campaigns.compile_for(store, settings, request, route.channels)
        variants = campaigns.variants_of(store, request)
        self.store, self.request, self.campaign_id = store, request, campaign_id
        self.now = clock.now()
        self.notice = notice_for(settings, load_category(store, request.category),
                                 request.priority, route, variants, request.variables,
                                 campaign_id=campaign_id)
        self.policy = Policy(self.notice, self.now)
        variables = request.variables
        self.rows = row_maker(settings, self.notice,
                              lambda ch, person: compiled.render(ch, person, variables),
                              request.source, self.now)

    def read(self, after: str | None, upto: str | None, size: int) -> Page | None:
        """A page of recipients and the decisions for them."""
        people = next(directory.stream_recipients(self.store, self.request.audience,
                                                  after_id=after, upto_id=upto, chunk=size),
                      None)
        if not people:
            return None
        facts = read_facts(self.store, self.notice, [p["id"] for p in people], self.now)
        return Page(people, self.policy.decide_page(people, facts))

    def rows_of(self, page: Page, channel: str) -> list[dict[str, Any]]:
        return [row for person, decided in zip(page.people, page.decisions)
                for row in self.rows.rows(person, decided, channel)]


async def fan_out(store: Store, settings: Settings, campaign_id: str, channel: str,
                  after_id: str | None = None, upto_id: str | None = None,
                  fault: FaultHook | None = None) -> FanoutReport:
    plan = await asyncio.to_thread(CampaignPlan, store, settings, campaign_id)
    actor = f"fanout:{channel}"
    report = FanoutReport(channel)
    publisher = await open_publisher(settings, [channel])
    try:
        async for page in _pages(plan, after_id, upto_id, settings.fanout_chunk):
            rows = plan.rows_of(page, channel)
            to_publish = await asyncio.to_thread(_store_chunk, store, rows, actor, report)
            await _publish(store, publisher, to_publish, report, fault,
                           settings.fanout_bundle, actor)
    finally:
        await publisher.amqp.close()
    return report


async def _pages(plan: CampaignPlan, after_id: str | None, upto_id: str | None, size: int):  # type: ignore[no-untyped-def]
    """The segment's pages: a small first one, then ``size`` at a time, shared by the
    route's channels."""
    chunk_size = min(FIRST_CHUNK, size)
    takers = max(1, len(plan.notice.route.channels))
    while True:
        key = (plan.store.url, plan.campaign_id, after_id, upto_id, chunk_size)
        page = await asyncio.to_thread(PAGES.get, key, takers,
                                       lambda a=after_id, n=chunk_size: plan.read(a, upto_id, n))
        if page is None:
            return
        yield page
        after_id = page.people[-1]["id"]
        if len(page.people) < chunk_size:
            return
        chunk_size = size


def _store_chunk(store: Store, rows: list[dict[str, Any]], actor: str,
                 report: FanoutReport) -> list[dict[str, Any]]:
    """Insert what is new (with the count of its decisions); return every row of the chunk
    still to publish.

    A repeated run (a Prefect retry, or the flow again with the same key) finds its rows
    already there and publishes again those not yet sent; the worker's claim absorbs copies.
    """
    known = store.existing([r["id"] for r in rows])
    new = [r for r in rows if r["id"] not in known]
    if new:
        write = store.insert_deliveries(new, actor)
        decided = Counter(r["code"] or "send" for r in new)
        with store.connect() as conn:
            write(conn)
            policy_sql.bump_counters(conn, decided)
    report.created += len(new)
    report.skipped += sum(1 for r in new if r["status"] == DeliveryStatus.SKIPPED.value)
    report.deferred += sum(1 for r in new if r["status"] == DeliveryStatus.DEFERRED.value)
    unsent = (DeliveryStatus.PENDING.value, QUEUED)
    return ([r for r in new if r["status"] == QUEUED]
            + [r for r in known.values() if r["status"] in unsent])


async def _publish(store: Store, publisher: ConfirmingPublisher, rows: list[dict[str, Any]],
                   report: FanoutReport, fault: FaultHook | None, bundle: int,
                   actor: str) -> None:
    if not rows:
        return
    handover = await handoff.publish(store, publisher, rows, actor, bundle)
    report.first_publish_at = report.first_publish_at or time.time()
    report.published += handover.confirmed
    report.refused += len(handover.refused_reasons())
    report.chunks += 1
    if fault is not None:
        fault(report.published)
