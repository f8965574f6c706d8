"""Engagement predictions scored on a simulated log (a simulation, not real people).

The log's first ``train_days`` days train each predictor; the later days are held out:
  * channel choice: new deliveries to everyone in routing mode ``first`` on a rule's channels,
    in the rule's fixed order, with the channel fastest for everyone first, or in each
    person's measured order; median time-to-read (unread counts as never);
  * send time: share of held-out reads within ±1 h of the predicted usual hour;
  * interests: precision@5 and NDCG@10 of topics read in the held-out days, ALS vs popularity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from ..engagement.channel_order import fit_channel_times
from ..engagement.interests import fit_als, fit_popularity
from ..engagement.send_time import fit_usual_hours, global_usual_hour
from ..engagement.simulator import DAY, Population, outcomes, simulate_log, simulate_population
from .ranking import mean_ranking_scores

RULE = ("email", "inbox", "wecom", "sms")


@dataclass(frozen=True)
class RecommendationResult:
    people: int
    events: int
    median_minutes: dict[str, float]       # order name -> median time-to-read
    within_hour: dict[str, float]          # order name -> share read within 1 h
    fallback_share: float
    hour_hits: dict[str, float]            # "per person" / "one hour for all"
    ranking: dict[str, tuple[float, float]]  # model -> (precision@5, NDCG@10)
    fit_seconds: float


def evaluate_recommendation(people: int = 5000, deliveries: int = 120, days: int = 60,
                            train_days: int = 48, seed: int = 0) -> RecommendationResult:
    import numpy as np

    population = simulate_population(people, seed=seed)
    log = simulate_log(population, deliveries, days=days, seed=seed + 1)
    cutoff = log.sent_at.min() - log.sent_at.min() % DAY + train_days * DAY
    train, test = log.subset(log.sent_at < cutoff), log.subset(log.sent_at >= cutoff)
    started = time.perf_counter()
    times, hours = fit_channel_times(train), fit_usual_hours(train)
    als, popular = fit_als(train), fit_popularity(train)
    fit_seconds = time.perf_counter() - started
    medians, within, fallback = channel_choice(population, times, np.random.default_rng(seed + 2))
    return RecommendationResult(
        people, len(log), medians, within, fallback, usual_hour_hits(test, hours, global_usual_hour(train)),
        {"ALS (implicit)": interest_scores(als, test), "popularity": interest_scores(popular, test)},
        fit_seconds)


def channel_choice(population: Population, times: Any, rng: Any,
                   per_person: int = 20) -> tuple[dict[str, float], dict[str, float], float]:
    import numpy as np

    people = population.interest.shape[0]
    ids = [f"p{i}" for i in range(people)]
    index = {c: i for i, c in enumerate(times.channels)}
    personal = [times.order(p, RULE)[0] for p in ids]
    fastest = fastest_for_everyone(times, RULE)
    firsts = {"rule order": [RULE[0]] * people, "fastest for all": [fastest] * people,
              "measured order": personal}
    medians, within = {}, {}
    for name, first in firsts.items():
        person = np.repeat(np.arange(people), per_person)
        channel = np.repeat(np.array([index[c] for c in first]), per_person)
        delay = outcomes(population, person, channel, 1.0, np.zeros(person.shape[0]), rng)
        delay = np.where(np.isnan(delay), np.inf, delay)
        medians[name] = float(np.median(delay) / 60)
        within[name] = float(np.mean(delay <= 3600))
    fallback = float(np.mean([times.order(p, RULE) == list(RULE) for p in ids]))
    return medians, within, fallback


def fastest_for_everyone(times: Any, channels: Sequence[str]) -> str:
    """The channel whose pooled delays (all people) reach the common quantile first."""
    import numpy as np

    pooled = {c: np.sort(times.delays_of(times.channels[c])) for c in channels}
    q = 0.5 * min(float(np.isfinite(d).mean()) for d in pooled.values())
    return min(channels, key=lambda c: pooled[c][max(0, int(q * len(pooled[c])) - 1)])


def usual_hour_hits(test: Any, hours: Any, everyone: int) -> dict[str, float]:
    import numpy as np

    read = test.read
    actual = test.hour[read].astype(np.int64)
    predicted = hours.hour[test.person[read]]
    known = predicted >= 0
    return {"per person": _within_one_hour(actual[known], predicted[known]),
            "one hour for all": _within_one_hour(actual, np.full(actual.shape, everyone))}


def _within_one_hour(actual: Any, predicted: Any) -> float:
    import numpy as np

    distance = np.abs(actual - predicted) % 24
    return float(np.mean(np.minimum(distance, 24 - distance) <= 1))


def interest_scores(model: Any, test: Any) -> tuple[float, float]:
    relevant: dict[int, set[int]] = {}
    read = test.read
    for person, topic in zip(test.person[read].tolist(), test.topic[read].tolist()):
        relevant.setdefault(person, set()).add(topic)
    rows = list(relevant)
    return mean_ranking_scores(model.scores(rows), relevant)


def format_recommendation(result: RecommendationResult) -> str:
    lines = [f"SIMULATED log: {result.people:,} people, {result.events:,} delivery events "
             f"(known latent preferences; not real people)",
             "channel choice (routing mode first, rule channels " + ", ".join(RULE) + "):"]
    for name in result.median_minutes:
        lines.append(f"  {name:<15} median time-to-read {result.median_minutes[name]:>7.1f} min,"
                     f" read within 1 h {result.within_hour[name]:.1%}")
    lines.append(f"  people left on the rule's order (too little data): {result.fallback_share:.1%}")
    lines.append("send time: held-out reads within ±1 h of the predicted usual hour")
    lines += [f"  {k:<17} {v:.1%}" for k, v in result.hour_hits.items()]
    lines.append("interests: topics read in the held-out days")
    lines += [f"  {k:<15} precision@5 {p:.3f}  NDCG@10 {n:.3f}" for k, (p, n) in result.ranking.items()]
    lines.append(f"fitting all three on the training days took {result.fit_seconds:.2f} s")
    return "\n".join(lines)
