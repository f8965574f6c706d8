"""The staff console at ``/console``: server-rendered pages over the same store, policy and
permission table as the API (``mount`` is called by clarion.api.app.create_app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from .permissions import PUBLIC
from .progress import ProgressHub
from .settings import ConsoleSettings
from .state import ConsoleState
from .web import DECLARED

STATIC = Path(__file__).parent / "static"


def _router() -> APIRouter:
    from .pages import (access, approvals, auth, campaigns, compose, deliveries, directory,
                        insights, overview, rules, templates)
    router = APIRouter(prefix="/console")
    for module in (auth, overview, campaigns, compose, insights, approvals, deliveries,
                   directory, templates, rules, access):
        router.include_router(module.router)
    return router


def mount(app: FastAPI, api_state: Any, settings: ConsoleSettings | None = None) -> None:
    console = settings or ConsoleSettings()
    app.state.console = ConsoleState(api_state, console,
                                     ProgressHub(api_state.store, console.progress_poll_s))
    app.include_router(_router())
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    DECLARED[("MOUNT", "/console/static")] = PUBLIC
