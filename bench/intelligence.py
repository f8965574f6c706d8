#!/usr/bin/env python
"""clarion.intelligence benchmark: suggestion and summary latency, engagement retraining.

* ``suggest`` — a model trained on the shipped corpus (threshold tuning skipped: it does not
  change the speed), then ``suggest(title, body)`` one notice at a time over every corpus
  notice, warm; per-notice mean, p50, p95, p99, max.  Also ``predict`` on the whole corpus at
  once (per notice).
* ``summaries`` — ``summarize(body, title)`` one notice at a time over the corpus.
* ``retrain`` — a simulated engagement log of about 1 million events; the time to build the
  log from EngagementEvent objects (the shape the site's records will come in) and to fit the
  channel times, usual hours, ALS interests and popularity on it.

    python bench/intelligence.py                       # all parts
    python bench/intelligence.py --parts suggest,summaries
    python bench/intelligence.py --parts retrain --events 1000000 --json-out bench/results/intelligence.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"mean_ms": statistics.fmean(ordered) * 1e3, "p50_ms": pick(0.5) * 1e3,
            "p95_ms": pick(0.95) * 1e3, "p99_ms": pick(0.99) * 1e3, "max_ms": ordered[-1] * 1e3,
            "n": len(ordered)}


def timed_each(function, items) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for item in items:
        started = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - started)
    return times


def bench_suggest() -> dict:
    from clarion.intelligence.classifier import train_model
    from clarion.intelligence.retrain import corpus_examples
    from clarion.intelligence.suggest import suggest

    examples = corpus_examples()
    model = train_model(examples, tune=False)
    suggest(examples[0].title, examples[0].body, model)  # warm: jieba's dictionary
    single = percentiles(timed_each(lambda e: suggest(e.title, e.body, model), examples))
    started = time.perf_counter()
    model.predict([e.text for e in examples])
    batch_ms = (time.perf_counter() - started) / len(examples) * 1e3
    return {"one_at_a_time": single, "batch_ms_per_notice": batch_ms}


def bench_summaries() -> dict:
    from clarion.intelligence.corpus import load_corpus
    from clarion.intelligence.summarize import summarize

    notices = load_corpus()
    summarize(notices[0].body, notices[0].title)
    return percentiles(timed_each(lambda n: summarize(n.body, n.title), notices))


def bench_retrain(events: int) -> dict:
    from clarion.intelligence.engagement.channel_order import fit_channel_times
    from clarion.intelligence.engagement.events import EngagementEvent, EngagementLog
    from clarion.intelligence.engagement.interests import fit_als, fit_popularity
    from clarion.intelligence.engagement.send_time import fit_usual_hours
    from clarion.intelligence.engagement.simulator import simulate_log, simulate_population

    per_person = 120
    log = simulate_log(simulate_population(max(1, events // per_person)), per_person)
    rows = as_events(log, EngagementEvent)
    started = time.perf_counter()
    rebuilt = EngagementLog.from_events(rows)
    build = time.perf_counter() - started
    steps = {}
    for name, fit in (("channel_times", fit_channel_times), ("usual_hours", fit_usual_hours),
                      ("als", fit_als), ("popularity", fit_popularity)):
        started = time.perf_counter()
        fit(rebuilt)
        steps[name] = time.perf_counter() - started
    return {"events": len(rebuilt), "people": len(rebuilt.people), "build_log_s": build,
            "fit_s": steps, "total_s": build + sum(steps.values())}


def as_events(log, event_type) -> list:  # type: ignore[no-untyped-def]
    """The simulated columns as EngagementEvent objects, as the site's records will arrive."""
    import math
    rows = []
    for p, c, t, sent, delay, hour in zip(log.person.tolist(), log.channel.tolist(),
                                          log.topic.tolist(), log.sent_at.tolist(),
                                          log.delay.tolist(), log.hour.tolist()):
        category, _, tag = log.topics[t].partition("/")
        read = not math.isnan(delay)
        rows.append(event_type(log.people[p], f"d{len(rows)}", category, log.channels[c], sent,
                               sent + delay if read else None, hour if read else None, tag))
    return rows


def rounded(value):  # type: ignore[no-untyped-def]
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="suggest,summaries,retrain")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results: dict = {}
    for part in args.parts.split(","):
        results[part] = {"suggest": bench_suggest, "summaries": bench_summaries,
                         "retrain": lambda: bench_retrain(args.events)}[part]()
        print(part, json.dumps(rounded(results[part]), indent=2), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(rounded(results), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
