#!/usr/bin/env python
"""clarion.intelligence benchmark: suggestion and summary latency, engagement retraining.

* ``suggest`` — a model trained on the shipped corpus (threshold tuning skipped: it does not
  change the speed), then ``suggest(title, body)`` one notice at a time over every corpus
  notice, warm; per-notice mean, p50, p95, p99, max.  Also ``predict`` on the whole corpus at
  once (per notice).
* ``summaries`` — ``summarize(body, title)`` one notice at a time over the corpus.
* ``retrain`` — the fitters alone, in memory: a simulated log of about ``--events`` deliveries,
  built from EngagementEvent objects, and the channel times, usual hours, ALS interests and
  popularity fitted on it.
* ``retrain-db`` — the way the site retrains: a simulated site whose ``engagement_events``
  hold about ``--events`` rows (reads and clicks, with all the deliveries they belong to, read
  or not, and the people in the directory) is loaded into a real database — a new SQLite file,
  or a fresh schema of ``--db postgresql+psycopg://…`` — untimed; then the retrain-models
  flow's ``learn-profiles`` task runs on it, timed: the history read from the database as
  columns, every person's channel order, usual hour and interests fitted, their profiles
  written (and old events pruned).

    python bench/intelligence.py                       # suggest, summaries, retrain
    python bench/intelligence.py --parts suggest,summaries
    python bench/intelligence.py --parts retrain --events 1000000 --json-out bench/results/intelligence.json
    python bench/intelligence.py --parts retrain-db --events 1000000 [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/db_ab.py: postgres_cpu_s


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


def bench_retrain_db(events: int, db: str | None, keep: bool = False) -> dict:
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="retrain-db-"))
    url, settle, drop = database(db, folder)
    os.environ.update(CLARION_DATABASE_URL=url, CLARION_DATA_DIR=str(folder / "var"))
    try:
        seeded = seed(url, events, folder)
        settle()
        from clarion.tasks.learning import learn_profiles
        timed = Timed()
        report = learn_profiles.fn()
        spent = timed.spent()
        spent["who_reads_s"] = time_who_reads(url)
    finally:
        if not keep:
            drop()
    return {"database": url.split(":", 1)[0].split("+")[0], "machine": machine(),
            "kept": url if keep else None, "seeded": seeded, "retrain": report, **spent}


def time_who_reads(url: str) -> dict:
    """Seconds per category of the console's "Who reads …" figures over the profiles the
    retrain just wrote (the store's per-segment sums and the ranking)."""
    from clarion.console.insights import categories, who_reads
    from clarion.store.db import store_for
    store = store_for(url)
    seconds = {}
    for category in categories(store):
        started = time.perf_counter()
        who_reads(store, category)
        seconds[category] = round(time.perf_counter() - started, 3)
    return seconds


class Timed:
    """Wall seconds, this process's CPU seconds and PostgreSQL's (all its processes, others'
    work included: read it beside the wall time) from now."""

    def __init__(self) -> None:
        from db_ab import postgres_cpu_s
        self.pg_cpu_s = postgres_cpu_s
        self.wall, self.cpu, self.pg = time.perf_counter(), time.process_time(), postgres_cpu_s()

    def spent(self) -> dict:
        return {"retrain_wall_s": time.perf_counter() - self.wall,
                "retrain_cpu_s": time.process_time() - self.cpu,
                "postgres_cpu_s": self.pg_cpu_s() - self.pg}


def machine() -> dict:
    import os
    import platform
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def database(db: str | None, folder: Path):  # type: ignore[no-untyped-def]
    """(URL, settle, drop): a new SQLite file in ``folder``, or a fresh schema of ``db``.
    ``settle`` brings a freshly loaded PostgreSQL schema where autovacuum would have it after
    a while (vacuumed, analysed), so that neither it nor stale statistics play a part in the
    timed retrain."""
    if not db:
        return f"sqlite:///{folder / 'clarion.db'}", lambda: None, lambda: None
    import uuid

    import sqlalchemy as sa
    schema = f"bench_retrain_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(db, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def settle() -> None:
        with admin.connect() as conn:
            for table in ("deliveries", "engagement_events", "recipients", "person_profiles"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {schema}.{table}")

    def drop() -> None:
        from clarion.store.db import forget_stores
        forget_stores()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    url = f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"
    return url, settle, drop


def seed(url: str, events: int, folder: Path) -> dict:
    """A simulated site with about ``events`` engagement events, its 60 days ending now."""
    from datetime import datetime, timezone

    from clarion.demo.history import load_site
    from clarion.store.db import store_for

    start = datetime.now(timezone.utc).timestamp() - 61 * 86400
    site = site_with_events(events, start)
    started = time.perf_counter()
    loaded = load_site(store_for(url), site, folder)
    return {**vars(loaded), "seed_s": time.perf_counter() - started}


def site_with_events(events: int, start: float):  # type: ignore[no-untyped-def]
    """The simulated site with at least ``events`` reads and clicks: its size guessed from a
    site of 10,000 people (a larger one may read more: the guess can overshoot by ~10%),
    then made larger until it has them."""
    from clarion.intelligence.engagement.site_history import simulate_site

    def count(site) -> int:  # type: ignore[no-untyped-def]
        return int(site.log.read.sum() + site.clicked.sum())

    site = simulate_site(10_000, start=start)
    people = int(-(-events * len(site.log.people) // count(site)))
    while count(site := simulate_site(people, start=start)) < events:
        people += max(1, people // 200)
    return site


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
    parser.add_argument("--db", help="retrain-db on this PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--keep", action="store_true", help="retrain-db: keep the database")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results: dict = {}
    parts = {"suggest": bench_suggest, "summaries": bench_summaries,
             "retrain": lambda: bench_retrain(args.events),
             "retrain-db": lambda: bench_retrain_db(args.events, args.db, args.keep)}
    for part in args.parts.split(","):
        results[part] = parts[part]()
        print(part, json.dumps(rounded(results[part]), indent=2), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(rounded(results), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
