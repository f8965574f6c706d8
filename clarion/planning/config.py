"""Changing policy: categories, routing rules and people's preferences — checked (a bad value
is refused naming its field, and nothing stored changes) and audited (each change writes an
audit entry in its own transaction).  The CLI, the API and the console all come through
here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from ..channels.registry import channel_specs
from ..errors import NotFound, Rejected
from ..settings import Settings
from ..store import audit
from ..store import engagement as engagement_sql
from ..store import policy as sql
from ..store.db import Store
from .categories import CategorySettings
from .notice import load_category
from .routing import RuleSpec, check_channels

ANY_CHANNEL = "*"


class PreferenceSpec(BaseModel):
    """One choice: a category on a channel (``*``: every channel), in or out."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(..., min_length=1, max_length=64)
    channel: str = Field(ANY_CHANNEL, min_length=1, max_length=64)
    opted_in: bool


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: list[PreferenceSpec] = Field(..., min_length=1, max_length=200)


class MyChoices(BaseModel):
    """What a person changes of their own (the inbox): preferences, whether what they do
    may be learned from (``profiling``), or both."""

    model_config = ConfigDict(extra="forbid")

    preferences: list[PreferenceSpec] | None = Field(None, min_length=1, max_length=200)
    profiling: StrictBool | None = Field(None, description="false: nothing of what I do is "
                                         "recorded or learned from, and what was is forgotten")

    @model_validator(mode="after")
    def _something(self) -> MyChoices:
        if self.preferences is None and self.profiling is None:
            raise ValueError("give preferences, profiling or both")
        return self


# --- categories -------------------------------------------------------------------------------

def set_category(store: Store, category: CategorySettings, actor: str) -> bool:
    """Create or replace a category; True if it is new."""
    row = audit.entry(actor, "category.set", category.name, "ok",
                      category.model_dump_json(exclude_none=True))
    return sql.put_category(store, category.row(), actor, row)


def list_categories(store: Store) -> list[CategorySettings]:
    return [CategorySettings.from_row(r) for r in sql.categories(store).values()]


# --- routing rules ----------------------------------------------------------------------------

def set_rule(store: Store, settings: Settings, category: str, rule: RuleSpec,
             actor: str) -> bool:
    """Create or replace the rule of (category, source); True if it is new."""
    load_category(store, category)
    check_channels(rule.channels, set(channel_specs(settings)))
    row = audit.entry(actor, "rule.set", f"{category}/{rule.source}", "ok",
                      f"{rule.mode}: {' → '.join(rule.channels)}")
    return sql.put_rule(store, category, rule.source, rule.channels, rule.mode, actor, row)


def delete_rule(store: Store, category: str, source: str, actor: str) -> None:
    row = audit.entry(actor, "rule.delete", f"{category}/{source}", "ok")
    if not sql.delete_rule(store, category, source, row):
        raise NotFound(f"no rule for category {category!r} and system {source!r}")


def show_rule(store: Store, category: str, source: str) -> dict[str, Any]:
    rule = next((r for r in sql.rules(store)
                 if r["category"] == category and r["source"] == source), None)
    if rule is None:
        raise NotFound(f"no rule for category {category!r} and system {source!r}")
    return rule


# --- preferences ------------------------------------------------------------------------------

def _check_preferences(store: Store, settings: Settings,
                       preferences: list[PreferenceSpec]) -> None:
    categories = {c.name: c for c in list_categories(store)}
    channels = set(channel_specs(settings)) | {ANY_CHANNEL}
    for i, p in enumerate(preferences):
        where = f"preferences.{i}"
        if p.category not in categories:
            raise Rejected(f"{where}.category", f"unknown category {p.category!r}; known: "
                                                f"{', '.join(sorted(categories))}")
        if p.channel not in channels:
            raise Rejected(f"{where}.channel", f"unknown channel {p.channel!r}; known: "
                                               f"{', '.join(sorted(channels))}")
        if not p.opted_in and categories[p.category].critical:
            raise Rejected(f"{where}.opted_in", f"{p.category} is critical: it reaches "
                                                "everyone and cannot be opted out of")


def set_preferences(store: Store, settings: Settings, recipient_id: str,
                    change: PreferenceChange, actor: str) -> None:
    """Set some of one person's choices (all or none)."""
    set_choices(store, settings, recipient_id, change.preferences, None, actor)


def set_choices(store: Store, settings: Settings, recipient_id: str,
                preferences: list[PreferenceSpec] | None, profiling: bool | None,
                actor: str) -> None:
    """Set some of one person's preferences and/or their consent to profiling (off: what
    was learned and recorded of them is forgotten) — all or none, audited as one change."""
    if not sql.known_recipient(store, recipient_id):
        raise NotFound(f"no recipient {recipient_id!r}")
    _check_preferences(store, settings, preferences or [])
    detail = [f"{p.category}/{p.channel}={'in' if p.opted_in else 'out'}"
              for p in preferences or []]
    if profiling is not None:
        detail.append(f"profiling={'on' if profiling else 'off'}")
    row = audit.entry(actor, "preferences.set", recipient_id, "ok", "; ".join(detail))
    with store.connect() as conn:
        if preferences:
            sql.put_preferences_in(conn, recipient_id, [p.model_dump() for p in preferences],
                                   actor)
        if profiling is not None:
            engagement_sql.set_profiling_in(conn, recipient_id, profiling)
        audit.add(conn, row)


def choices_view(store: Store, recipient_id: str) -> dict[str, Any]:
    """A person's preferences per category, and whether they allow profiling."""
    return {"recipient_id": recipient_id, "items": preferences_view(store, recipient_id),
            "profiling": engagement_sql.profiling_of(store, recipient_id)}


def preferences_view(store: Store, recipient_id: str) -> list[dict[str, Any]]:
    """Per category: whether it can be opted out of, its default and this person's choices."""
    if not sql.known_recipient(store, recipient_id):
        raise NotFound(f"no recipient {recipient_id!r}")
    chosen: dict[str, dict[str, bool]] = {}
    for p in sql.preferences_of(store, recipient_id):
        chosen.setdefault(p["category"], {})[p["channel"]] = bool(p["opted_in"])
    return [{"category": c.name, "description": c.description, "critical": c.critical,
             "default": "in" if not c.opt_in else "out",
             "channels": {} if c.critical else chosen.get(c.name, {})}
            for c in list_categories(store)]
