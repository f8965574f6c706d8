"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ..schemas import Health
from ..state import state

router = APIRouter(tags=["operations"])


def _database_ok(request: Request) -> bool:
    try:
        with state(request).store.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - health reports, never raises
        return False


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request, response: Response):
    ok = await asyncio.to_thread(_database_ok, request)
    response.status_code = 200 if ok else 503
    return {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
