"""A simulated engagement log as a site's own records — a simulation, not real people.

The simulator's people become a directory (their segment is a department × role, students
get a grade that plays no part in their tastes), each (day, topic, channel) of the log a
campaign of the topic's category, each delivery a row that reached its person, and each read
a ``read`` engagement event (a fifth of the reads on channels with links also a ``clicked``
one, a minute or so later).  The store loads them in bulk (``clarion.store.history_load``),
so that the retrain path and the console's segment figures run from a real database, and
the truth they should find is known (``Population.interest``, ``Population.segment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .events import EngagementLog
from .simulator import DAY, Population, simulate_log, simulate_population

COLLEGES = ("Physics", "Chemistry", "History", "Law", "Medicine", "Economics", "Arts",
            "Engineering")
ROLES = ("student", "faculty", "staff")  # segment s: COLLEGES[s % 8] × ROLES[s // 8]
GRADES = ("2023", "2024", "2025", "2026")
CLICK_SHARE = 0.2
NO_LINKS = frozenset({"sms"})


@dataclass
class SimulatedSite:
    population: Population
    log: EngagementLog
    start: float     # POSIX seconds of the first day
    campaign: Any    # int[n]: the index of each delivery's (day, topic, channel) campaign
    clicked: Any     # bool[n]: read, and a link followed too

    def category(self, topic: int) -> str:
        return self.log.topics[topic].split("/", 1)[0]


def simulate_site(people: int, deliveries_per_person: int = 120, days: int = 60,
                  start: float = 1_788_000_000.0, seed: int = 0,
                  segments: int = len(COLLEGES) * len(ROLES)) -> SimulatedSite:
    """``people`` × ``deliveries_per_person`` deliveries over ``days`` days from ``start``,
    at most one per person and campaign (a repeat of a person's campaign is dropped).
    With ``segments`` = len(COLLEGES) the tastes go by department alone (everyone a student)."""
    import numpy as np

    population = simulate_population(people, seed=seed, segments=segments)
    log = simulate_log(population, deliveries_per_person, days, seed=seed + 1, start=start)
    day = ((log.sent_at - start) // DAY).astype(np.int64)
    campaign = (day * len(log.topics) + log.topic) * len(log.channels) + log.channel
    _, first = np.unique(log.person.astype(np.int64) * (campaign.max() + 1) + campaign,
                         return_index=True)
    keep = np.zeros(len(log), dtype=bool)
    keep[first] = True
    log = log.subset(keep)
    rng = np.random.default_rng(seed + 2)
    links = ~np.isin(np.array(log.channels)[log.channel], list(NO_LINKS))
    clicked = log.read & links & (rng.random(len(log)) < CLICK_SHARE)
    return SimulatedSite(population, log, start, campaign[keep], clicked)


def category_log(site: SimulatedSite) -> EngagementLog:
    """The log with its topics folded into their categories: what the site's history gives
    back when it is read from the database (its deliveries carry a category, no tag)."""
    import numpy as np

    log = site.log
    categories = sorted({site.category(t) for t in range(len(log.topics))})
    fold = np.array([categories.index(site.category(t)) for t in range(len(log.topics))])
    return EngagementLog(log.people, log.channels, categories, log.person, log.channel,
                         fold[log.topic].astype(np.int32), log.sent_at, log.delay, log.hour)


def segment_of(segment: int) -> tuple[str, str]:
    """(department, role) of a simulated segment."""
    return COLLEGES[segment % len(COLLEGES)], ROLES[segment // len(COLLEGES) % len(ROLES)]


def directory_rows(site: SimulatedSite) -> list[dict[str, str]]:
    """The people as rows of a directory CSV (id, name, roles, department, grade)."""
    rows = []
    for i, (person, segment) in enumerate(zip(site.log.people, site.population.segment)):
        department, role = segment_of(int(segment))
        grade = GRADES[i % len(GRADES)] if role == "student" else ""
        rows.append({"id": person, "name": f"Simulated {person}", "roles": role,
                     "department": department, "grade": grade})
    return rows


def campaign_rows(site: SimulatedSite) -> list[dict[str, Any]]:
    """One campaign per (day, topic, channel) that has a delivery."""
    import numpy as np

    log, rows = site.log, []
    for index in np.unique(site.campaign).tolist():
        rest, channel = divmod(index, len(log.channels))
        day, topic = divmod(rest, len(log.topics))
        name = f"sim-{day:02d}-{log.topics[topic].replace('/', '-')}-{log.channels[channel]}"
        rows.append({"id": campaign_id(index), "key": name, "name": name,
                     "category": site.category(topic), "priority": "normal",
                     "source": "simulation", "request": {}, "status": "completed",
                     "created_at": _at(site.start + day * DAY)})
    return rows


def campaign_id(index: int) -> str:
    return f"c_sim_{index:08d}"


def history_chunks(site: SimulatedSite, chunk: int = 50_000
                   ) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(deliveries, engagement events) ``chunk`` deliveries at a time, in the order of the log."""
    for begin in range(0, len(site.log), chunk):
        columns = _columns(site, begin, min(begin + chunk, len(site.log)))
        yield _deliveries(columns), _events(columns)


def _columns(site: SimulatedSite, begin: int, end: int) -> dict[str, list[Any]]:
    """The log's rows ``begin:end`` as Python values, one list per column."""
    log, cut = site.log, slice(begin, end)
    categories = [site.category(t) for t in range(len(log.topics))]
    return {"id": [f"d_sim_{i:08d}" for i in range(begin, end)],
            "campaign": [campaign_id(c) for c in site.campaign[cut].tolist()],
            "person": [log.people[p] for p in log.person[cut].tolist()],
            "channel": [log.channels[c] for c in log.channel[cut].tolist()],
            "category": [categories[t] for t in log.topic[cut].tolist()],
            "sent": [_at(t) for t in log.sent_at[cut].tolist()],
            "read": [None if d != d else _at(t + d) for t, d in
                     zip(log.sent_at[cut].tolist(), log.delay[cut].tolist())],
            "hour": log.hour[cut].tolist(), "clicked": site.clicked[cut].tolist()}


def _deliveries(c: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [{"id": i, "campaign_id": campaign, "message_id": None, "recipient_id": person,
             "channel": channel, "address": "simulated", "content": {}, "category": category,
             "priority": "normal", "source": "simulation", "status": "sent", "created_at": sent}
            for i, campaign, person, channel, category, sent in
            zip(c["id"], c["campaign"], c["person"], c["channel"], c["category"], c["sent"])]


def _events(c: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """A read event per read delivery; a click a minute or two later for some (the same
    local hour: the hour of the first of them is what the models learn from)."""
    out = []
    for n, read_at in enumerate(c["read"]):
        if read_at is None:
            continue
        event = {"delivery_id": c["id"][n], "recipient_id": c["person"][n],
                 "category": c["category"][n], "channel": c["channel"][n], "kind": "read",
                 "sent_at": c["sent"][n], "at": read_at, "local_hour": c["hour"][n]}
        out.append(event)
        if c["clicked"][n]:
            out.append({**event, "kind": "clicked", "at": read_at + timedelta(seconds=90)})
    return out


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)
