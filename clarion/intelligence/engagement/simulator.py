"""A simulated engagement log with known latent preferences — a simulation, not real people.

Each simulated person has:
  * per-channel reading delays: a log-normal around a channel's typical delay, scaled by a
    personal factor per channel (some read WeCom at once and e-mail next day, others the
    reverse), and a per-channel chance of reading at all;
  * a usual reading hour: most reads that are not immediate wait for it;
  * interests: a low-rank taste for topics (category/tag), shared within their segment
    (college × role) plus a personal part, on top of each topic's general appeal.
Deliveries go to every person on random channels, with random topics, at random daytime
hours over ``days`` days.  The truth is returned with the log so predictions can be scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..categories import CATEGORIES
from .events import EngagementLog

CHANNELS = ("email", "wecom", "inbox", "sms")
TYPICAL_DELAY_MINUTES = {"email": 240.0, "wecom": 30.0, "inbox": 90.0, "sms": 20.0}
READ_CHANCE = {"email": 0.75, "wecom": 0.9, "inbox": 0.85, "sms": 0.95}
TAGS_PER_CATEGORY = 8
HOUR = 3600.0
WAIT_SHARE = 0.4  # reads that wait for the person's usual hour
DAY = 86400.0


@dataclass
class Population:
    delay_scale: Any    # float[people, channels]: median delay in seconds
    read_chance: Any    # float[people, channels]
    usual_hour: Any     # float[people]
    interest: Any       # float[people, topics]: chance of reading a delivery of that topic
    segment: Any        # int[people]
    topics: list[str]


def simulate_population(people: int, seed: int = 0, segments: int = 24, rank: int = 4) -> Population:
    import numpy as np

    rng = np.random.default_rng(seed)
    typical = np.array([TYPICAL_DELAY_MINUTES[c] * 60 for c in CHANNELS])
    delay = typical * np.exp(rng.normal(0.0, 1.2, size=(people, len(CHANNELS))))
    chance = np.clip(np.array([READ_CHANCE[c] for c in CHANNELS])
                     + rng.normal(0, 0.1, size=(people, len(CHANNELS))), 0.05, 0.99)
    usual = rng.choice([8.0, 12.5, 18.0, 21.5], size=people) + rng.normal(0, 1.0, size=people)
    topics = [f"{c}/t{t}" for c in CATEGORIES for t in range(TAGS_PER_CATEGORY)]
    segment = rng.integers(0, segments, size=people)
    taste = rng.normal(0, 1.0, size=(segments, rank))[segment] + rng.normal(0, 0.5, size=(people, rank))
    topic_factors = rng.normal(0, 1.0, size=(len(topics), rank))
    appeal = rng.normal(-1.2, 0.8, size=len(topics))
    interest = 1 / (1 + np.exp(-(taste @ topic_factors.T * 0.9 + appeal)))
    return Population(delay, chance, np.mod(usual, 24), interest, segment, topics)


def simulate_log(population: Population, deliveries_per_person: int, days: int = 60,
                 seed: int = 1, start: float = 1_788_000_000.0) -> EngagementLog:
    """One event per delivery; each person gets ``deliveries_per_person`` of them."""
    import numpy as np

    rng = np.random.default_rng(seed)
    people = population.interest.shape[0]
    person = np.repeat(np.arange(people, dtype=np.int32), deliveries_per_person)
    n = person.shape[0]
    channel = rng.integers(0, len(CHANNELS), size=n).astype(np.int16)
    topic = rng.integers(0, len(population.topics), size=n).astype(np.int32)
    day = rng.integers(0, days, size=n)
    sent = start + day * DAY + rng.uniform(8, 20, size=n) * HOUR
    delay = outcomes(population, person, channel, population.interest[person, topic], sent, rng)
    reads = ~np.isnan(delay)
    hour = np.where(reads, ((sent + np.nan_to_num(delay)) % DAY) // HOUR, -1).astype(np.int8)
    return EngagementLog([f"p{i}" for i in range(people)], list(CHANNELS), list(population.topics),
                         person, channel, topic, sent, delay, hour)


def _wait_for_usual_hour(rng: Any, noticed: Any, usual: Any, share: float) -> Any:
    """For a ``share`` of the reads, the time moves on to the person's next usual hour."""
    import numpy as np

    target = usual + rng.normal(0, 0.6, size=noticed.shape[0])
    day_start = noticed - noticed % DAY
    at = day_start + np.mod(target, 24) * HOUR
    at = np.where(at < noticed, at + DAY, at)
    return np.where(rng.random(noticed.shape[0]) < share, at, noticed)


def outcomes(population: Population, person: Any, channel: Any, interest: Any, sent: Any,
             rng: Any) -> Any:
    """Seconds from sending to reading for each delivery (NaN: not read): the person reads
    with chance interest × channel's chance, notices it after the channel's delay, and for
    some reads (WAIT_SHARE) waits for their usual hour."""
    import numpy as np

    n = person.shape[0]
    reads = rng.random(n) < interest * population.read_chance[person, channel]
    noticed = sent + population.delay_scale[person, channel] * np.exp(rng.normal(0, 0.6, size=n))
    delay = _wait_for_usual_hour(rng, noticed, population.usual_hour[person], WAIT_SHARE) - sent
    return np.where(reads, delay, np.nan)
