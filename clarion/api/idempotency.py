"""``Idempotency-Key``: the first request with a key claims it (a unique row), does the work
and stores its answer; a repeat gets that answer, and a concurrent repeat waits for it.

Only successful answers are stored: a refused or failed request releases its claim, so the
caller may correct it and try again with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Awaitable, Callable

from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..store.api_models import IdempotencyRecord as R
from ..store.db import Store
from .errors import ApiError

Work = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
POLL_SECONDS = 0.05


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _claim(store: Store, key_id: str, key: str, digest: str) -> dict[str, Any] | None:
    """None if we now own the key; else the existing record."""
    try:
        with store.session() as s:
            s.add(R(api_key_id=key_id, key=key, request_hash=digest))
        return None
    except IntegrityError:
        return _find(store, key_id, key) or {"request_hash": digest, "status_code": None}


def _find(store: Store, key_id: str, key: str) -> dict[str, Any] | None:
    with store.session() as s:
        row = s.execute(select(R.request_hash, R.status_code, R.response)
                        .where(R.api_key_id == key_id, R.key == key)).first()
    return dict(row._mapping) if row else None


def seen(store: Store, key_id: str, key: str) -> bool:
    """Whether a request with this key was already made (answered or still running): a
    repeat, which replays that answer and creates nothing."""
    with store.session() as s:
        return s.execute(select(R.key).where(R.api_key_id == key_id, R.key == key)
                         .limit(1)).first() is not None


def _store_answer(store: Store, key_id: str, key: str, status: int, body: dict) -> None:
    with store.session() as s:
        s.execute(update(R).where(R.api_key_id == key_id, R.key == key)
                  .values(status_code=status, response=body))


def _release(store: Store, key_id: str, key: str) -> None:
    with store.session() as s:
        s.execute(delete(R).where(R.api_key_id == key_id, R.key == key,
                                  R.status_code.is_(None)))


def _replay(record: dict[str, Any]) -> JSONResponse:
    return JSONResponse(record["response"], status_code=record["status_code"],
                        headers={"Idempotent-Replayed": "true"})


async def _await_answer(store: Store, key_id: str, key: str, digest: str,
                        wait_s: float) -> dict[str, Any] | None:
    """Poll the winner's record until it has an answer; None if the claim was released."""
    deadline = time.monotonic() + wait_s
    while True:
        record = await asyncio.to_thread(_find, store, key_id, key)
        if record is None or record["status_code"] is not None:
            return record
        if time.monotonic() > deadline:
            raise ApiError(409, "in_progress", "a request with this Idempotency-Key is still "
                           "in progress; retry later", "Idempotency-Key")
        await asyncio.sleep(POLL_SECONDS)


def _check_same(record: dict[str, Any], digest: str) -> None:
    if record["request_hash"] != digest:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a "
                       "different request", "Idempotency-Key")


async def once(store: Store, key_id: str, key: str | None, digest: str, work: Work,
               wait_s: float = 10.0) -> JSONResponse:
    """Run ``work`` at most once per (API key, Idempotency-Key)."""
    if not key:
        status, body = await work()
        return JSONResponse(body, status_code=status)
    while True:
        record = await asyncio.to_thread(_claim, store, key_id, key, digest)
        if record is None:
            break
        _check_same(record, digest)
        answered = await _await_answer(store, key_id, key, digest, wait_s)
        if answered is not None:
            _check_same(answered, digest)
            return _replay(answered)
    try:
        status, body = await work()
    except BaseException:
        await asyncio.shield(asyncio.to_thread(_release, store, key_id, key))
        raise
    await asyncio.to_thread(_store_answer, store, key_id, key, status, body)
    return JSONResponse(body, status_code=status)
