"""``clarion up``: start the local platform, detached, and record what was started."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Callable

import psutil

from ..settings import Settings
from . import services
from .services import Service
from .state import Proc, StackState, load, save, stack_dir

READY_TIMEOUT_S = 120


class StackError(Exception):
    """A part did not start; its log's last lines are in the message."""


class AlreadyUp(Exception):
    def __init__(self, state: StackState):
        super().__init__("the stack is already running")
        self.state = state


def child_env(settings: Settings, root: Path) -> dict[str, str]:
    return {**os.environ, "CLARION_DATA_DIR": str(settings.data_dir.resolve()),
            "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(root / "prefect")),
            "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1"}


def start(service: Service, state: StackState, settings: Settings) -> Proc:
    log = Path(state.root) / "logs" / f"{service.name}.log"
    with open(log, "w") as out:
        child = subprocess.Popen(service.argv, env={**state.env, **service.env}, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)  # survives this command's end
    proc = Proc(service.name, child.pid, psutil.Process(child.pid).create_time(), str(log),
                service.url)
    state.procs.append(proc)
    save(settings, state)  # at once: `clarion down` stops it even if `up` fails later
    return proc


def wait_ready(pairs: list[tuple[Service, Proc]], timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(pairs)
    while waiting:
        for service, proc in list(waiting):
            if not proc.alive():
                tail = Path(proc.log).read_text(errors="replace")[-2000:]
                raise StackError(f"{service.name} exited while starting:\n{tail}")
            if service.ready(Path(proc.log)):
                waiting.remove((service, proc))
        if waiting and time.monotonic() > deadline:
            raise StackError(f"not ready after {timeout:.0f} s: "
                             f"{', '.join(s.name for s, _ in waiting)}")
        time.sleep(0.2)


def up(settings: Settings, workers: int = 2, with_api: bool = True,
       say: Callable[[str], None] = print, extra: list[Service] | None = None) -> StackState:
    """Start the stack; ``extra`` parts (the demo's capture servers) first, and stopped by
    ``clarion down`` with the rest."""
    existing = load(settings)
    if existing is not None and existing.running():
        raise AlreadyUp(existing)
    root = stack_dir(settings)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    state = StackState(root=str(root), env=child_env(settings, root))
    wait_ready([(p, start(p, state, settings)) for p in extra or []])
    state.prefect_api = os.environ.get("PREFECT_API_URL") or _start_prefect(state, settings, say)
    state.env["PREFECT_API_URL"] = state.prefect_api
    save(settings, state)
    _prepare_prefect(state, root)
    parts = [services.deployment_server(), services.campaign_runner(),
             *services.workers(workers)]
    parts += [services.api(settings.public_url)] if with_api else []
    say(f"starting {', '.join(p.name for p in parts)} …")
    wait_ready([(p, start(p, state, settings)) for p in parts])
    return state


def _start_prefect(state: StackState, settings: Settings, say: Callable[[str], None]) -> str:
    service, api = services.prefect_server()
    say(f"starting the Prefect server ({service.url}) …")
    wait_ready([(service, start(service, state, settings))])
    return api


def _prepare_prefect(state: StackState, root: Path) -> None:
    """Results where callers can read them (the server's default result storage)."""
    os.environ["PREFECT_API_URL"] = state.env["PREFECT_API_URL"]
    os.environ["PREFECT_HOME"] = state.env["PREFECT_HOME"]
    from ..flows.results import ensure_result_storage
    asyncio.run(ensure_result_storage(root / "prefect" / "results"))
