"""A site with a simulated engagement history, loaded into a real database: its people through
the directory's CSV import, its campaigns, deliveries and reads through the store's bulk
loader.  For the retrain benchmark (``bench/intelligence.py --parts retrain-db``), the tests of
the history read from the database and of the console's segment figures — a simulation, not
real people."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..directory import import_csv
from ..intelligence.engagement.site_history import (SimulatedSite, campaign_rows,
                                                     directory_rows, history_chunks)
from ..store import history_load
from ..store.db import Store


@dataclass
class Loaded:
    people: int = 0
    campaigns: int = 0
    deliveries: int = 0
    events: int = 0


def load_site(store: Store, site: SimulatedSite, folder: Path, chunk: int = 50_000) -> Loaded:
    """Put ``site`` into ``store`` (a CSV of its people is written into ``folder``)."""
    loaded = Loaded(people=_import_people(store, site, Path(folder) / "simulated-people.csv"))
    loaded.campaigns = history_load.load_campaigns(store, campaign_rows(site))
    for deliveries, events in history_chunks(site, chunk):
        loaded.deliveries += history_load.load_deliveries(store, deliveries)
        loaded.events += history_load.load_engagement(store, events)
    return loaded


def _import_people(store: Store, site: SimulatedSite, path: Path) -> int:
    rows = directory_rows(site)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = import_csv(store, path)
    if report.errors:
        raise ValueError(f"the simulated directory did not load: {report.errors[:3]}")
    return report.loaded
