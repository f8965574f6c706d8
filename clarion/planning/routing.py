"""Routing: which channels a notice takes, and how.

A request names its channels (every one of them is used: mode ``all``) or says ``"auto"``:
then the routing rule of its category (for its producing system, else for any system) gives
an ordered list of channels and a mode —

- ``all``: every channel the person can be reached on;
- ``first``: the first of them the person can be reached on (and has not opted out of);
- ``fallback``: that first one, and if it fails for good the next, and so on (e.g. WeCom →
  SMS → email); the rest of the route travels with the delivery (``deliveries.fallback``).

Emergency priority always takes every channel of the route at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..domain import Priority
from ..errors import Rejected

Mode = Literal["first", "all", "fallback"]
MODES: tuple[str, ...] = ("first", "all", "fallback")
AUTO = "auto"


class RuleSpec(BaseModel):
    """A routing rule as the API and the CLI take it."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(..., min_length=1, max_length=10)
    mode: Mode = "first"
    source: str = Field("*", min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z0-9_.:-]+)$")

    @field_validator("channels")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("channels are repeated")
        return v


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    mode: str
    rule: str | None = None  # "category/source" of the rule used, None when named outright

    def as_dict(self) -> dict[str, object]:
        return {"channels": list(self.channels), "mode": self.mode, "rule": self.rule}

    @classmethod
    def from_dict(cls, d: dict) -> Route:  # type: ignore[type-arg]
        return cls(tuple(d["channels"]), d["mode"], d.get("rule"))


def check_channels(channels: list[str], known: set[str], field: str = "channels") -> None:
    unknown = [c for c in channels if c not in known]
    if unknown:
        raise Rejected(field, f"unknown channel(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")


def route_for(requested: list[str] | str, rule: dict | None, category: str,  # type: ignore[type-arg]
              source: str, priority: Priority, known: set[str]) -> Route:
    """The route of a request: its own channels, or its category's rule."""
    if requested != AUTO:
        check_channels(list(requested), known)
        return Route(tuple(requested), "all")
    if rule is None:
        raise Rejected("channels", f"no routing rule for category {category!r} (system "
                                   f"{source!r}): name the channels, or add a rule "
                                   f"(clarion rules set {category} --channels …)")
    check_channels(list(rule["channels"]), known, "channels")
    mode = "all" if priority is Priority.EMERGENCY else rule["mode"]
    return Route(tuple(rule["channels"]), mode, f"{rule['category']}/{rule['source']}")


def choose(route: Route, usable: list[bool]) -> tuple[list[int], list[int]]:
    """Which of the route's channels to send on now, and which wait as its fallback, given
    which of them this person can be reached on: (now, later) as indexes into the route."""
    open_ = [i for i, ok in enumerate(usable) if ok]
    if route.mode == "all":
        return open_, []
    if not open_:
        return [], []
    if route.mode == "first":
        return open_[:1], []
    return open_[:1], open_[1:]
