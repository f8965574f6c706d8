"""``clarion down``: stop what ``clarion up`` started — those PIDs and their children only."""

from __future__ import annotations

import signal
import time

import psutil

from ..settings import Settings
from .state import Proc, clear, load

STOP_TIMEOUT_S = 30
PREFECT_SERVER = "prefect-server"


def _family(proc: Proc) -> list[psutil.Process]:
    """The process and its descendants (flow runs of the deployment server, say)."""
    if not proc.alive():
        return []
    leader = psutil.Process(proc.pid)
    try:
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return [leader]


def _signal_all(family: list[psutil.Process], sig: int) -> None:
    for p in family:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass  # gone already


def _stop(procs: list[Proc], timeout: float) -> None:
    families = [_family(p) for p in procs]
    for family in families:
        _signal_all(family[:1], signal.SIGTERM)  # the leader stops its own children
    members = [p for family in families for p in family]
    _gone, alive = psutil.wait_procs(members, timeout=timeout)
    _signal_all(alive, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)


def down(settings: Settings, timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop every recorded process; the Prefect server last, since the others talk to it
    while they stop (the deployment server pauses its schedules).  Returns the names."""
    state = load(settings)
    if state is None:
        return []
    stopped = [p.name for p in state.procs if p.alive()]
    last = [p for p in state.procs if p.name == PREFECT_SERVER]
    _stop([p for p in reversed(state.procs) if p not in last], timeout)
    _stop(last, timeout)
    clear(settings)
    return stopped
