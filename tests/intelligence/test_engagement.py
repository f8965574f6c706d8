from __future__ import annotations

import numpy as np

from clarion.intelligence.engagement.channel_order import fit_channel_times
from clarion.intelligence.engagement.events import EngagementEvent, EngagementLog
from clarion.intelligence.engagement.interests import fit_als, fit_popularity
from clarion.intelligence.engagement.send_time import fit_usual_hours
from clarion.intelligence.engagement.simulator import simulate_log, simulate_population
from clarion.intelligence.evaluation.ranking import ndcg_at, precision_at
from clarion.intelligence.evaluation.recommendation import evaluate_recommendation

RULE = ["email", "wecom", "sms"]


def events(person: str, channel: str, delays: list[float | None], hour: int = 20) -> list:
    return [EngagementEvent(person, f"{person}-{channel}-{i}", "campus", channel, 1000.0 * i,
                            None if d is None else 1000.0 * i + d, hour, "club")
            for i, d in enumerate(delays)]


def test_log_from_events_keeps_what_was_read_and_when():
    log = EngagementLog.from_events(events("p1", "sms", [60.0, None]) + events("p2", "email", [5.0]))
    assert log.people == ["p1", "p2"] and log.topics == ["campus/club"] and len(log) == 3
    assert log.read.tolist() == [True, False, True] and log.hour.tolist() == [20, -1, 20]


def test_channels_are_ordered_by_measured_time_to_read_with_the_rule_as_fallback():
    log = EngagementLog.from_events(
        events("fast-sms", "email", [9000.0] * 6) + events("fast-sms", "sms", [30.0] * 6)
        + events("ignores-email", "email", [None] * 5 + [10.0]) + events("ignores-email", "wecom", [600.0] * 6)
        + events("thin", "email", [9000.0] * 2) + events("thin", "sms", [30.0] * 2))
    times = fit_channel_times(log)
    assert times.order("fast-sms", RULE) == ["sms", "wecom", "email"]  # wecom: no data, stays
    assert times.order("ignores-email", RULE) == ["wecom", "email", "sms"]
    assert times.order("thin", RULE) == RULE            # too few deliveries to trust
    assert times.order("stranger", RULE) == RULE        # never seen


def test_usual_hour_needs_enough_reads():
    log = EngagementLog.from_events(events("night", "sms", [1.0] * 6, hour=22)
                                    + events("new", "sms", [1.0] * 2, hour=9))
    hours = fit_usual_hours(log)
    assert hours.usual_hour("night") == 22 and hours.usual_hour("new") is None


def test_ranking_metrics_by_hand():
    assert precision_at([1, 2, 3, 4, 5], {1, 5, 9}, 5) == 0.4
    assert ndcg_at([9, 1], {1}, 10) == 1 / np.log2(3)
    assert ndcg_at([1, 9], {1}, 10) == 1.0


def test_als_learns_interests_popularity_cannot():
    population = simulate_population(1500, seed=4)
    log = simulate_log(population, 80, days=40, seed=5)
    als, popular = fit_als(log), fit_popularity(log)
    truth = population.interest
    person = np.arange(300)
    top_als = np.argsort(-als.scores(person), axis=1)[:, :5]
    top_pop = np.argsort(-popular.scores(person), axis=1)[:, :5]
    taken = lambda top: np.take_along_axis(truth[person], top, axis=1).mean()  # noqa: E731
    assert taken(top_als) > taken(top_pop) + 0.05


def test_simulated_evaluation_shows_each_predictor_helping():
    result = evaluate_recommendation(people=1200, deliveries=80, days=40, train_days=32)
    assert result.median_minutes["measured order"] < result.median_minutes["rule order"]
    assert result.median_minutes["measured order"] <= result.median_minutes["fastest for all"]
    assert result.hour_hits["per person"] > result.hour_hits["one hour for all"]
    (als_p, als_n), (pop_p, pop_n) = result.ranking["ALS (implicit)"], result.ranking["popularity"]
    assert als_p > pop_p and als_n > pop_n
