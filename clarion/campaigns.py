"""Campaigns without Prefect: check a request, register it once, follow, cancel.

The flow's tasks, the CLI and the API all come through here.  A campaign is ``running``
while it fans out and sends; ``waiting`` once only deliveries that wait (quiet hours,
digests) are left — the release flow completes it when they are final; ``completed``,
``cancelled`` or ``failed`` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import content as content_mod
from . import directory, template_files
from .channels.registry import channel_specs
from .domain import (FINAL_STATUSES, OPEN_STATUSES, CampaignRequest, CampaignStatus,
                     DeliveryStatus, Priority, campaign_id_for)
from .errors import NotFound, Rejected
from .planning.categorize import AUTO, Advice, advise
from .planning import clock
from .planning.notice import load_category, notice_for, resolve_route, row_maker
from .planning.routing import Route
from .planning.short_text import with_short_texts
from .settings import Settings
from .store import campaigns as campaign_rows
from .store import deliveries
from .store.db import Store

OPEN = {s.value for s in OPEN_STATUSES}  # deferred ones too: they have still to go
IN_PROGRESS = {s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.QUEUED,
                                 DeliveryStatus.SENDING)}
FINAL = {s.value for s in FINAL_STATUSES}

CampaignRejected = Rejected  # a request that can't be sent; ``field`` names the part


class CampaignNotFound(NotFound):
    pass


@dataclass
class Prepared:
    request: CampaignRequest  # with its category chosen, if it said "auto"
    compiled: Any  # content.CompiledContent
    audience_size: int
    route: Route
    advice: Advice | None = None  # how the category was suggested


def with_category(store: Store, request: Any) -> tuple[Any, Advice | None]:
    """The request with a category: its own, or the model's suggestion for "auto"."""
    if request.category != AUTO:
        return request, None
    advice = advise(store, AUTO, variants_of(store, request))
    return request.model_copy(update={"category": advice.category}), advice


def flag(store: Store, request: Any) -> Advice | None:
    """For the sender: does the text read more critical than its category? (Never changes
    it; an emergency has nothing above it.)"""
    if request.priority is Priority.EMERGENCY or request.category == AUTO:
        return None
    advice = advise(store, request.category, variants_of(store, request))
    return advice if advice.flag else None


def variants_of(store: Store, request: Any) -> dict[str, dict[str, Any]]:
    content = request.content
    if content is not None:
        if hasattr(content, "variants"):  # a campaign's typed Content
            return content.variants()
        return {k: v.model_dump(exclude_none=True) for k, v in content.items()}  # a message
    try:
        return content_mod.load_template(store, request.template or "")
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc


def compile_for(store: Store, settings: Settings, request: Any,
                channels: list[str] | tuple[str, ...]) -> content_mod.CompiledContent:
    """The content for each channel; a short channel without a text of its own gets a
    summary of the body (clarion.planning.short_text)."""
    specs = channel_specs(settings)
    kinds = {c: specs[c]["type"] for c in channels}
    variants, _derived = with_short_texts(variants_of(store, request), list(channels), specs,
                                          _sms_reserve(store, request))
    try:
        return content_mod.compile_content(variants, list(channels), kinds)
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc


def _sms_reserve(store: Store, request: Any) -> int:
    """Room an SMS keeps for its category's opt-out hint (added to the text by planning)."""
    if request.category == AUTO or request.priority is not Priority.NORMAL:
        return 0
    footer = load_category(store, request.category).sms_footer
    return len(footer) + 1 if footer else 0


def preview(store: Store, settings: Settings, request: CampaignRequest
            ) -> dict[str, dict[str, Any]]:
    """What each channel would send a sample recipient of the audience: its fields, whether
    its text was derived (a summary), and for SMS the length and segments."""
    from .intelligence.summarize.sms import segment_limit, sms_length
    prepared = prepare(store, settings, request)
    req, specs = prepared.request, channel_specs(settings)
    _variants, derived = with_short_texts(variants_of(store, req), list(prepared.route.channels),
                                          specs, _sms_reserve(store, req))
    sample = directory.sample_recipient(store, req.audience) or {}
    notice = notice_for(settings, load_category(store, req.category), req.priority,
                        prepared.route, variants_of(store, req), req.variables)
    maker = row_maker(settings, notice, lambda ch, p: prepared.compiled.render(
        ch, p, req.variables), req.source, clock.now())
    out = {}
    for channel in prepared.route.channels:
        fields = maker.content(channel, sample)  # as sent: with the link or opt-out hint
        item: dict[str, Any] = {"fields": fields, "derived": channel in derived}
        if specs[channel]["type"] in content_mod.SMS_KINDS:
            text, limit = fields.get("text", ""), segment_limit(fields.get("text", ""))
            length = sms_length(text)
            part = limit - (7 if limit == 160 else 3)  # a concatenated SMS's header
            item["sms"] = {"length": length,
                           "segments": 1 if length <= limit else -(-length // part)}
        out[channel] = item
    return out


def route_of(store: Store, settings: Settings, request: CampaignRequest) -> Route:
    load_category(store, request.category)
    return resolve_route(store, settings, request.category, request.source,
                         request.channels, request.priority)


def load_file_template(store: Store, name: str | None) -> None:
    """A ``file:`` template into the stored ones (only if its text changed)."""
    if template_files.is_file_template(name):
        try:
            template_files.load(store, name or "")
        except content_mod.ContentError as exc:
            raise CampaignRejected(exc.field, exc.message) from exc


def prepare(store: Store, settings: Settings, request: CampaignRequest) -> Prepared:
    """Everything that can be checked before a single delivery exists."""
    load_file_template(store, request.template)
    request, advice = with_category(store, request)
    route = route_of(store, settings, request)
    compiled = compile_for(store, settings, request, route.channels)
    size = directory.count_audience(store, request.audience)
    if size == 0:
        raise CampaignRejected("audience", "the audience matches no recipients")
    sample = directory.sample_recipient(store, request.audience) or {}
    try:
        compiled.check(request.variables, sample)
    except content_mod.ContentError as exc:
        raise CampaignRejected(exc.field, exc.message) from exc
    return Prepared(request, compiled, size, route, advice)


def register(store: Store, request: CampaignRequest, route: Route,
             flow_run_id: str | None = None, api_key_id: str | None = None
             ) -> tuple[str, bool]:
    """Create the campaign row once per key; a repeat returns the existing id.  The route is
    fixed here: a rule changed later does not move a campaign already started."""
    key = request.campaign_key()
    cid = campaign_id_for(key)
    new = campaign_rows.add_once(store, dict(  # the flow's own registration may come first
        id=cid, key=key, name=request.name, category=request.category,
        priority=request.priority.value, source=request.source,
        request=request.model_dump(mode="json"), route=route.as_dict(),
        status=CampaignStatus.RUNNING.value, flow_run_id=flow_run_id, api_key_id=api_key_id))
    return cid, new


def note_advice(store: Store, campaign_id: str, advice: Advice) -> None:
    campaign_rows.set_advice(store, campaign_id, advice.as_dict())


def _row(store: Store, campaign_id: str) -> Any:
    row = campaign_rows.row(store, campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id)
    return row


def load_request(store: Store, campaign_id: str) -> CampaignRequest:
    return CampaignRequest.model_validate(_row(store, campaign_id).request)


def load(store: Store, campaign_id: str) -> tuple[CampaignRequest, Route]:
    """The campaign's request and the route fixed when it was registered."""
    row = _row(store, campaign_id)
    request = CampaignRequest.model_validate(row.request)
    route = (Route.from_dict(row.route) if row.route else
             Route(tuple(request.channels), "all"))  # registered before routing existed
    return request, route


def get(store: Store, campaign_id: str) -> dict[str, Any]:
    row = _row(store, campaign_id)
    info = {"campaign_id": row.id, "name": row.name, "status": row.status,
            "category": row.category, "priority": row.priority, "source": row.source,
            "api_key_id": row.api_key_id, "flow_run_id": row.flow_run_id,
            "route": row.route, "advice": row.advice,
            "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None}
    info["channels"] = summarize(store.counts(campaign_id))
    info["decisions"] = deliveries.decisions(store, campaign_id=campaign_id)
    return info


def summarize(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """channel → {sent, failed, skipped, deferred, open, total, …} from raw status counts;
    ``open`` counts everything not final, deferred deliveries included."""
    out: dict[str, dict[str, int]] = {}
    for channel, by_status in counts.items():
        row = {"sent": 0, "failed": 0, "skipped": 0, "deferred": 0, "open": 0, "total": 0}
        for status, n in by_status.items():
            if status in ("sent", "delivered", "read"):
                row["sent"] += n
            elif status in ("failed", "skipped", "deferred"):
                row[status] += n
            if status in OPEN:
                row["open"] += n
            row["total"] += n
        out[channel] = row
    return out


def is_finished(counts: dict[str, dict[str, int]]) -> bool:
    return all(status not in OPEN for by in counts.values() for status in by)


def in_progress(counts: dict[str, dict[str, int]]) -> bool:
    """Deliveries on their way now (deferred ones wait for their time)."""
    return any(status in IN_PROGRESS for by in counts.values() for status in by)


def finish(store: Store, campaign_id: str, status: CampaignStatus) -> None:
    campaign_rows.move(store, campaign_id, campaign_rows.ENDABLE, status.value, finished=True)


def hand_over(store: Store, campaign_id: str) -> None:
    """Fanned out, and what is left waits (quiet hours, digests): the release flow
    completes the campaign when that is final too."""
    campaign_rows.move(store, campaign_id, (CampaignStatus.RUNNING.value,),
                       CampaignStatus.WAITING.value)


def cancel(store: Store, campaign_id: str, actor: str = "cli") -> int:
    """Stop a campaign: its deliveries not yet sent (deferred ones too) end skipped."""
    if not campaign_rows.move(store, campaign_id, (), CampaignStatus.CANCELLED.value,
                              finished=True):
        raise CampaignNotFound(campaign_id)
    return deliveries.skip_open(store, campaign_id, "cancelled", actor)


def is_cancelled(store: Store, campaign_id: str) -> bool:
    return campaign_rows.status_of(store, campaign_id) == CampaignStatus.CANCELLED.value
