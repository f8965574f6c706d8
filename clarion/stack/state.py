"""The stack's state file: which processes ``clarion up`` started, and where they answer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..settings import Settings


@dataclass
class Proc:
    name: str
    pid: int
    started: float  # the process's start time (psutil), so a reused PID is not ours
    log: str
    url: str | None = None  # where it answers, for people (UI) or programs (API)

    def alive(self) -> bool:
        try:
            p = psutil.Process(self.pid)
            return abs(p.create_time() - self.started) < 1 and p.status() != "zombie"
        except psutil.Error:
            return False


@dataclass
class StackState:
    root: str
    prefect_api: str | None = None
    procs: list[Proc] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # what every part was started with

    def running(self) -> list[Proc]:
        return [p for p in self.procs if p.alive()]

    def get(self, name: str) -> Proc | None:
        return next((p for p in self.procs if p.name == name), None)


def stack_dir(settings: Settings) -> Path:
    return (settings.data_dir / "stack").resolve()


def state_path(settings: Settings) -> Path:
    return stack_dir(settings) / "state.json"


def load(settings: Settings) -> StackState | None:
    path = state_path(settings)
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    procs = [Proc(**p) for p in raw.pop("procs", [])]
    return StackState(**raw, procs=procs)


def save(settings: Settings, state: StackState) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def clear(settings: Settings) -> None:
    state_path(settings).unlink(missing_ok=True)


def running_prefect_api(settings: Settings) -> str | None:
    """The API of the Prefect server a running ``clarion up`` stack started, if any."""
    state = load(settings)
    if state is None or not state.prefect_api:
        return None
    server = state.get("prefect-server")
    if server is not None and not server.alive():
        return None
    return state.prefect_api
