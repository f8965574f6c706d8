"""The policy stage: for each person of a page, which channels a notice goes out on, now,
later or not at all — and why.

Pure: the page's facts (preferences, what each person already got) are read beforehand, in
bulk (clarion.planning.facts), and the clock is given.  In order, for each person:

1. **Route** — the channels they can be reached on (an address) and have not opted out of
   (critical categories cannot be opted out of; opt-in categories need an opt-in), chosen
   by the route's mode (clarion.planning.routing).
2. **Duplicates** — the same content on the same channel within the category's window.
3. **Caps** — at most N notices of the category per person per day / week (rolling).
4. **Digest** — held for the person's next digest time.
5. **Quiet hours** — held until the category's quiet window ends in their time zone.
6. **Predictions** (clarion.planning.profiles) — with a learned profile, routing mode
   ``first`` tries the channels in the order this person reads fastest, and a category with
   ``send_time`` holds the notice for their usual reading hour later the same day.

An emergency skips all of it (every channel of the route, at once); urgent priority skips
digests, quiet hours and send times; critical categories skip preferences, caps and
predictions.  Each decision is a
status with a reason code (``opted_out``, ``not_opted_in``, ``no_address``, ``inactive``,
``duplicate``, ``capped``; ``digest``, ``quiet_hours``, ``send_time`` for deferrals) and a
sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from ..domain import DeliveryStatus as S
from ..domain import Priority
from .categories import CategorySettings
from .quiet_hours import first_instant_at, zone
from .routing import Route, choose

QUEUED, DEFERRED, SKIPPED = S.QUEUED.value, S.DEFERRED.value, S.SKIPPED.value


@dataclass(frozen=True)
class Notice:
    """What the policy stage knows of one notice: a campaign or a transactional message."""

    category: CategorySettings
    priority: Priority
    route: Route
    content_hash: str
    address_fields: dict[str, str]  # channel → the recipient field holding its address
    default_timezone: str = "Asia/Shanghai"
    campaign_id: str | None = None
    message_id: str | None = None
    enabled: bool = True  # CLARION_POLICY=off: only addresses are checked
    predictions: bool = True  # CLARION_PREDICTIONS=off: no per-person channel order, send time

    @property
    def emergency(self) -> bool:
        return self.priority is Priority.EMERGENCY

    @property
    def unconditional(self) -> bool:
        """Nothing but an address stands in its way."""
        return self.emergency or not self.enabled

    @property
    def predicted(self) -> bool:
        """Per-person predictions may shape it (never for critical categories)."""
        return (self.predictions and not self.unconditional and not self.category.critical
                and (self.route.mode == "first" or self.category.send_time))


@dataclass
class Facts:
    """What the policy stage needs to know of a page of people, read in bulk."""

    preferences: dict[tuple[str, str], bool] = field(default_factory=dict)  # (id, channel|*)
    notices: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (day, week)
    duplicates: set[tuple[str, str]] = field(default_factory=set)  # (id, channel)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → learned profile


@dataclass(slots=True)
class Decision:
    channel: str
    status: str  # queued, deferred or skipped
    code: str | None = None
    reason: str | None = None
    release_at: datetime | None = None
    fallback: tuple[str, ...] = ()  # the channels to try next if this one fails for good

    @property
    def label(self) -> str:
        """The decision as counted (``clarion_policy_decisions_total{decision}``)."""
        return self.code if self.code else "send"


class Policy:
    """The policy of one notice at one moment; decides page after page."""

    def __init__(self, notice: Notice, now: datetime):
        self.notice, self.now = notice, now
        self._held: dict[str, tuple[str, datetime] | None] = {}  # time zone → deferral

    def decide_page(self, people: list[dict[str, Any]], facts: Facts) -> list[list[Decision]]:
        if self.notice.unconditional and self.notice.route.mode == "all":
            return self._addresses_only(people)
        return [self.decide(p, facts) for p in people]

    def _addresses_only(self, people: list[dict[str, Any]]) -> list[list[Decision]]:
        """``decide`` for a notice that only an address can stop (an emergency, policy off)
        on every channel of its route: the same decisions, without the steps that cannot
        apply — the hot path of an emergency to the whole campus."""
        channels = self.notice.route.channels
        fields = [(c, self.notice.address_fields[c]) for c in channels]
        out = []
        for person in people:
            if person.get("active") is False:
                out.append([Decision(c, SKIPPED, "inactive", "inactive recipient")
                            for c in channels])
                continue
            queued = [Decision(c, QUEUED) for c, f in fields if person.get(f)]
            if len(queued) < len(fields):
                queued += [Decision(c, SKIPPED, "no_address", f"no {f}")
                           for c, f in fields if not person.get(f)]
            out.append(queued)
        return out

    def decide(self, person: dict[str, Any], facts: Facts) -> list[Decision]:
        n = self.notice
        if person.get("active") is False:
            return [Decision(c, SKIPPED, "inactive", "inactive recipient")
                    for c in n.route.channels]
        route = self._route_of(person, facts)
        blocked = [self._blocked(person, c, facts) for c in route.channels]
        now, later = choose(route, [b is None for b in blocked])
        if not now:
            return self._unreachable(route, blocked)
        chosen = [Decision(route.channels[i], QUEUED) for i in now]
        if later:
            chosen[0].fallback = tuple(route.channels[i] for i in later)
        if route.mode != "all" and (now[0] > 0 or route is not n.route):
            chosen[0].reason = _route_note(route, blocked, now[0], route is not n.route)
        if not n.unconditional:
            self._limit(person, chosen, facts)
        skipped = ([Decision(route.channels[i], SKIPPED, *b) for i, b in
                    enumerate(blocked) if b is not None] if route.mode == "all" else [])
        return chosen + skipped

    def _route_of(self, person: dict[str, Any], facts: Facts) -> Route:
        """The route, its channels in the order this person reads fastest (mode ``first``,
        with a learned profile); else as the rule has it."""
        route = self.notice.route
        learned = (facts.profiles.get(person["id"]) or {}).get("channel_order")
        if route.mode != "first" or not learned or not self.notice.predicted:
            return route
        rank = {c: i for i, c in enumerate(learned)}
        ordered = tuple(sorted(route.channels, key=lambda c: rank.get(c, len(rank))))
        return route if ordered == route.channels else Route(ordered, route.mode, route.rule)

    # ---- step 1: can this person be reached on this channel at all? --------------------------

    def _blocked(self, person: dict[str, Any], channel: str, facts: Facts
                 ) -> tuple[str, str] | None:
        """(code, reason) why ``channel`` is out for this person, or None."""
        address_field = self.notice.address_fields[channel]
        if not person.get(address_field):
            return "no_address", f"no {address_field}"
        if self.notice.unconditional or self.notice.category.critical:
            return None
        return self._preference(person["id"], channel, facts)

    def _preference(self, rid: str, channel: str, facts: Facts) -> tuple[str, str] | None:
        cat = self.notice.category
        choice = facts.preferences.get((rid, channel), facts.preferences.get((rid, "*")))
        if choice is False:
            return "opted_out", f"opted out of {cat.name} on {channel}"
        if choice is None and cat.opt_in:
            return "not_opted_in", f"{cat.name} is opt-in and they have not opted in"
        return None

    def _unreachable(self, route: Route, blocked: list[tuple[str, str] | None]
                     ) -> list[Decision]:
        """Nobody to send to on any channel of the route: one row says why."""
        reasons = [b for b in blocked if b is not None]
        if route.mode == "all":
            return [Decision(c, SKIPPED, *b) for c, b in zip(route.channels, blocked)
                    if b is not None]
        codes = [code for code, _ in reasons]
        code = next((c for c in ("opted_out", "not_opted_in") if c in codes), "no_address")
        why = "; ".join(f"{c}: {r}" for c, (_, r) in zip(route.channels, reasons))
        return [Decision(route.channels[0], SKIPPED, code, why)]

    # ---- steps 2-5: duplicates, caps, digests, quiet hours ----------------------------------

    def _limit(self, person: dict[str, Any], chosen: list[Decision], facts: Facts) -> None:
        rid, cat = person["id"], self.notice.category
        for d in chosen:
            if (rid, d.channel) in facts.duplicates:
                _skip(d, "duplicate", f"the same notice reached them on {d.channel} within "
                                      f"{_span(cat.dedup_window_s or 0)}")
        capped = None if cat.critical else self._capped(facts.notices.get(rid, (0, 0)))
        held = (None if self.notice.priority is not Priority.NORMAL else
                self._hold(person) or self._reading_hour(person, facts))
        for d in chosen:
            if d.status != QUEUED:
                continue
            if capped:
                _skip(d, "capped", capped)
            elif held:
                d.status, d.code, d.release_at = DEFERRED, held[0], held[1]
                d.reason = _hold_note(held, person, self.notice, d.reason)

    def _capped(self, got: tuple[int, int]) -> str | None:
        for (period, limit), n in zip(self.notice.category.caps, _by_period(got, self.notice)):
            if n >= limit:
                return (f"{n} {self.notice.category.name} notices in the last {period} "
                        f"(cap {limit} a {period})")
        return None

    def _hold(self, person: dict[str, Any]) -> tuple[str, datetime] | None:
        """(code, release time) if the notice must wait for this person: a digest or quiet
        hours; worked out once per time zone of the page."""
        tz = person.get("timezone") or self.notice.default_timezone
        if tz not in self._held:
            self._held[tz] = self._hold_in(zone(tz))
        return self._held[tz]

    def _reading_hour(self, person: dict[str, Any], facts: Facts
                      ) -> tuple[str, datetime] | None:
        """("send_time", when) if the category lets the send time follow the person and they
        usually read later today; else None (now is as good)."""
        hour = (facts.profiles.get(person["id"]) or {}).get("usual_hour")
        if hour is None or not self.notice.category.send_time or not self.notice.predicted:
            return None
        tz = zone(person.get("timezone") or self.notice.default_timezone)
        local, window = self.now.astimezone(tz), self.notice.category.window
        if local.hour >= hour or (window is not None and window.contains(time(hour))):
            return None  # later today it is, and never into the quiet hours
        return "send_time", first_instant_at(local.date(), time(hour), tz)

    def _hold_in(self, tz: Any) -> tuple[str, datetime] | None:
        cat = self.notice.category
        if cat.digest is not None:
            return "digest", cat.digest.next_after(self.now, tz)
        window = cat.window
        release = window.release_after(self.now, tz) if window else None
        return ("quiet_hours", release) if release else None


def _skip(d: Decision, code: str, reason: str) -> None:
    d.status, d.code, d.reason, d.fallback = SKIPPED, code, reason, ()


def _by_period(got: tuple[int, int], notice: Notice) -> list[int]:
    day, week = got
    return [day if period == "day" else week for period, _ in notice.category.caps]


def _route_note(route: Route, blocked: list[tuple[str, str] | None], chosen: int,
                learned: bool = False) -> str:
    passed = "".join(f"{route.channels[i]}: {blocked[i][1]}; "  # type: ignore[index]
                     for i in range(chosen))
    order = "the order this person reads fastest, " if learned else ""
    return (f"route {' → '.join(route.channels)} ({order}mode {route.mode}): {passed}"
            f"sent on {route.channels[chosen]}")


def _hold_note(held: tuple[str, datetime], person: dict[str, Any], notice: Notice,
               note: str | None) -> str:
    code, at = held
    tz = person.get("timezone") or notice.default_timezone
    local = at.astimezone(zone(tz)).isoformat(timespec="minutes")
    why = {"digest": f"in {notice.category.name}'s digest",
           "send_time": "held for this person's usual reading hour"}.get(
        code, f"quiet hours {notice.category.quiet_hours} in {tz}")
    text = f"{why}; released {local}"
    return f"{note}; {text}" if note else text


def _span(seconds: int) -> str:
    return str(timedelta(seconds=seconds))
