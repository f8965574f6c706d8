"""Results already sent wait for the database instead of being given back to be sent again
(the pipeline's ``_committed``): a database that restarts is waited for, up to
``RECORD_PATIENCE_S``, then the error is raised (the batch goes back to the broker)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from clarion.worker import pipeline

REAL_SLEEP = asyncio.sleep


class FlakyWriter:
    """A writer whose database is down for the first ``down`` writes."""

    def __init__(self, down: int):
        self.down, self.calls = down, 0

    async def write(self, fn, *args):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= self.down:
            raise OperationalError("UPDATE deliveries", {}, Exception("server closed"))
        return fn(None, *args)


def committed(writer: FlakyWriter):  # type: ignore[no-untyped-def]
    p = object.__new__(pipeline.Pipeline)  # only its writer takes part here
    p.writer = writer
    return asyncio.run(p._committed(lambda _conn: ["next"]))


def test_a_write_that_fails_while_the_database_restarts_is_made_again(monkeypatch) -> None:
    monkeypatch.setattr(pipeline.asyncio, "sleep", lambda _s: REAL_SLEEP(0))
    writer = FlakyWriter(down=3)
    assert committed(writer) == ["next"] and writer.calls == 4


def test_past_its_patience_the_error_is_raised(monkeypatch) -> None:
    monkeypatch.setattr(pipeline.asyncio, "sleep", lambda _s: REAL_SLEEP(0))
    monkeypatch.setattr(pipeline, "RECORD_PATIENCE_S", 0.0)
    writer = FlakyWriter(down=10**6)
    with pytest.raises(OperationalError):
        committed(writer)
    assert writer.calls >= 1
