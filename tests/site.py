"""A site's policy for the policy tests: categories, rules and people as a test needs them
(the delivery-path tests run on a neutral site: tests/conftest.py ``neutral_policy``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from clarion.directory import import_csv
from clarion.planning import config
from clarion.planning.categories import CategorySettings
from clarion.planning.routing import RuleSpec
from clarion.store import policy as sql

COLUMNS = ("id", "name", "roles", "department", "grade", "email", "phone", "wecom_userid",
           "timezone")


def set_category(store, name: str, **values: Any) -> CategorySettings:  # type: ignore[no-untyped-def]
    current = {c.name: c.model_dump() for c in config.list_categories(store)}.get(name, {})
    category = CategorySettings.model_validate({**current, **values, "name": name})
    config.set_category(store, category, "test")
    return category


def set_rule(store, settings, category: str, channels: list[str], mode: str,  # type: ignore[no-untyped-def]
             source: str = "*") -> None:
    config.set_rule(store, settings, category, RuleSpec(channels=channels, mode=mode,
                                                        source=source), "test")


def opt(store, recipient: str, category: str, channel: str, opted_in: bool) -> None:  # type: ignore[no-untyped-def]
    sql.put_preferences(store, recipient, [{"category": category, "channel": channel,
                                            "opted_in": opted_in}], "test")


def load_people(store, path: Path, people: list[dict[str, Any]]) -> int:  # type: ignore[no-untyped-def]
    """Write ``people`` (dicts of COLUMNS) as a CSV and import it."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: p.get(c, "") for c in COLUMNS} for p in people)
    report = import_csv(store, path)
    assert not report.errors, report.errors
    return report.loaded


def person(pid: str, **extra: Any) -> dict[str, Any]:
    n = int("".join(ch for ch in pid if ch.isdigit()) or 0)
    return {"id": pid, "name": f"Person {pid}", "roles": "student", "department": "Physics",
            "grade": "2024", "email": f"{pid.lower()}@campus.example.edu",
            "phone": f"+86139{n:08d}", "wecom_userid": pid.lower(), **extra}
