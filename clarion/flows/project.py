"""``prefect.yaml`` read as data: the one list of Clarion's deployments.

``prefect deploy --all`` reads it for work-pool workers; ``clarion serve`` reads the same
entries (names, entrypoints, parameters, schedules, concurrency limits) and serves them from
one process, so the two ways of running cannot drift apart.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

CHECKOUT = Path(__file__).resolve().parents[2]


class ProjectError(Exception):
    """prefect.yaml is missing or says something Clarion cannot serve."""


@dataclass
class DeploymentSpec:
    name: str
    entrypoint: str  # "clarion/flows/broadcast.py:broadcast"
    description: str = ""
    tags: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: int | None = None
    work_pool: str | None = None

    def load_flow(self) -> Any:
        path, _, attr = self.entrypoint.partition(":")
        module = path.removesuffix(".py").replace("/", ".")
        return getattr(importlib.import_module(module), attr)


def find_prefect_yaml() -> Path:
    """``$CLARION_HOME/prefect.yaml``, else the checkout's."""
    home = os.environ.get("CLARION_HOME")
    path = Path(home) / "prefect.yaml" if home else CHECKOUT / "prefect.yaml"
    if not path.is_file():
        raise ProjectError(f"no prefect.yaml at {path} (set CLARION_HOME to the checkout)")
    return path


def read_project(path: Path | None = None) -> dict[str, Any]:
    path = path or find_prefect_yaml()
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path} is not valid YAML: {exc}") from exc


def deployment_specs(path: Path | None = None) -> list[DeploymentSpec]:
    specs = []
    for entry in read_project(path).get("deployments") or []:
        pool = entry.get("work_pool") or {}
        specs.append(DeploymentSpec(
            name=entry["name"], entrypoint=entry["entrypoint"],
            description=entry.get("description", ""), tags=list(entry.get("tags") or []),
            parameters=dict(entry.get("parameters") or {}),
            schedules=list(entry.get("schedules") or []),
            concurrency_limit=entry.get("concurrency_limit"),
            work_pool=pool.get("name") if isinstance(pool, dict) else pool))
    return specs


def schedule_of(entry: dict[str, Any]) -> Any:
    """A prefect.yaml schedule entry (interval in seconds, or cron) as a Prefect Schedule."""
    from prefect.schedules import Schedule
    common = {"timezone": entry.get("timezone"), "active": entry.get("active", True)}
    if "interval" in entry:
        return Schedule(interval=timedelta(seconds=float(entry["interval"])), **common)
    if "cron" in entry:
        return Schedule(cron=entry["cron"], **common)
    raise ProjectError(f"a schedule needs interval or cron: {entry}")
