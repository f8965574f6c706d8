"""Running a campus scenario (clarion/demo/scenarios/NAME.json) against the demo campus.

A scenario sets up what its office would have configured — categories, routing rules,
templates, some people's preferences — then runs its steps (campaigns through the broadcast
flow, transactional messages through the same pipeline as ``POST /v1/messages``, digests)
on a simulated clock, so that what it shows does not depend on the hour it is run at.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from importlib import resources
from typing import Any

from rich.console import Console
from sqlalchemy import select
from rich.table import Table

from .. import campaigns, content, transactional
from ..broker.publisher import open_publisher
from ..channels.registry import channel_specs
from ..domain import CampaignRequest
from ..planning import clock, config, digests, release
from ..planning.categories import CategorySettings
from ..planning.routing import RuleSpec
from ..settings import Settings
from ..store import policy as policy_sql
from ..store.db import Store
from ..store.models import Delivery

console = Console()
ACTOR = "scenario"


def names() -> list[str]:
    folder = resources.files("clarion.demo.scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load(name: str) -> dict[str, Any]:
    if name not in names():
        raise ValueError(f"no scenario {name!r}; there are: {', '.join(names())}")
    return json.loads(resources.files("clarion.demo.scenarios").joinpath(f"{name}.json")
                      .read_text(encoding="utf-8"))


def set_up(store: Store, settings: Settings, spec: dict[str, Any]) -> None:
    """What the office would have configured before sending."""
    for cat in spec.get("categories", []):
        config.set_category(store, CategorySettings.model_validate(cat), ACTOR)
    for rule in spec.get("rules", []):
        config.set_rule(store, settings, rule["category"],
                        RuleSpec(channels=rule["channels"], mode=rule["mode"]), ACTOR)
    for name, variants in spec.get("templates", {}).items():
        content.save_template(store, name, variants)
    for pref in spec.get("preferences", []):
        for rid in pref["recipients"]:
            policy_sql.put_preferences(store, rid, [{k: pref[k] for k in
                                                     ("category", "channel", "opted_in")}],
                                       ACTOR)


async def run(store: Store, settings: Settings, name: str) -> bool:
    """Set up and run the scenario; True when every step showed what it expects."""
    spec = load(name)
    set_up(store, settings, spec)
    console.print(f"[bold]{spec['title']}[/]: {spec['about']}")
    frozen = clock.FrozenClock(datetime.fromisoformat(spec["at"]))
    ok = True
    with clock.using(frozen):
        for i, step in enumerate(spec["steps"], 1):
            if "at" in step:
                frozen.set(datetime.fromisoformat(step["at"]))
            frozen.advance(minutes=step.get("after_minutes", 0))
            ok &= await _step(store, settings, name, i, step, frozen.now())
    return ok


async def _step(store: Store, settings: Settings, name: str, i: int, step: dict[str, Any],
                at: datetime) -> bool:
    if "campaign" in step:
        info = await _campaign(name, i, step["campaign"])
    elif "message" in step:
        info = await _message(store, settings, step)
    elif "release" in step:
        report = await release.release_due(store, settings)
        await _settled(lambda: _busy(store))
        info = {"name": "release of what waited", "channels": {}, "decisions": {},
                "released": report.released}
    else:
        report = await digests.send_digests(store, settings, step["digest"])
        info = {"name": f"digest of {step['digest']}", "channels": {}, "decisions": {},
                "digests": report.digests}
        await _settled(lambda: _busy(store, Delivery.source.like("digest:%")))
    _show(info, at)
    return _expected(info, step.get("expect", {}))


async def _campaign(name: str, i: int, request: dict[str, Any]) -> dict[str, Any]:
    from ..flows.broadcast import broadcast
    key = request.get("idempotency_key") or f"scenario-{name}-{i}"
    req = CampaignRequest.model_validate({**request, "idempotency_key":
                                          f"{key}-{int(time.time())}"})
    return await broadcast(req, wait=True, timeout_s=600)


async def _message(store: Store, settings: Settings, step: dict[str, Any]) -> dict[str, Any]:
    request = transactional.MessageRequest.model_validate(step["message"])
    plan = transactional.plan(store, settings, request, step.get("source", "scenario"))
    publisher = await open_publisher(settings, list(channel_specs(settings)))
    message_id = transactional.new_message_id()
    try:
        await transactional.deliver(store, settings, publisher, plan, message_id)
    finally:
        await publisher.amqp.close()

    def busy() -> bool:
        status = transactional.status(store, message_id) or {"channels": {}}
        return any(c["open"] - c["deferred"] for c in status["channels"].values())
    await _settled(busy)
    return {"name": f"message to {len(plan.recipients)}", **transactional.status(store,
                                                                                  message_id)}


def _busy(store: Store, *where: Any) -> bool:
    """Deliveries matching ``where`` still on their way."""
    with store.read() as conn:
        return conn.execute(select(Delivery.id).where(
            Delivery.status.in_(tuple(campaigns.IN_PROGRESS)), *where).limit(1)
        ).first() is not None


async def _settled(busy: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while busy() and time.monotonic() < deadline:
        await asyncio.sleep(0.25)


def _show(info: dict[str, Any], at: datetime) -> None:
    table = Table(title=f"{at:%a %d %b %H:%M} — {info['name']}", title_justify="left")
    for col in ("channel", "sent", "failed", "skipped", "deferred", "why"):
        table.add_column(col)
    for channel, c in sorted(info["channels"].items()):
        why = "; ".join(f"{status} {code} {n}" for status, codes in
                        info["decisions"].get(channel, {}).items()
                        for code, n in sorted(codes.items()))
        table.add_row(channel, *(str(c[k]) for k in ("sent", "failed", "skipped", "deferred")),
                      why)
    console.print(table)
    for key, what in (("digests", "digests sent"), ("released", "deliveries released")):
        if key in info:
            console.print(f"  {info[key]} {what}")


def _expected(info: dict[str, Any], expect: dict[str, Any]) -> bool:
    problems = [f"nothing sent on {ch}" for ch in expect.get("sent", [])
                if info["channels"].get(ch, {}).get("sent", 0) == 0]
    for status in ("skipped", "deferred"):
        seen = {code for by in info["decisions"].values() for code in by.get(status, {})}
        problems += [f"no {status} {code}" for code in expect.get(status, []) if code not in seen]
    problems += [f"no {key}" for key in ("digests", "released")
                 if expect.get(key) and not info.get(key)]
    for p in problems:
        console.print(f"  [bold red]unexpected:[/] {p}")
    return not problems
