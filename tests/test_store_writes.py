"""The store's write paths on a real database: the inbox's one-transaction record, and (on
SQLite) writers of every process queued on one file lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from clarion.store import deliveries
from clarion.store.models import Delivery, DeliveryEvent, InboxMessage


def _rows(store, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    rows = [{"id": f"d-{tag}-{i}", "campaign_id": None, "message_id": f"m-{tag}",
             "recipient_id": f"r{i}", "channel": "inbox", "address": f"r{i}",
             "content": {"title": "t", "body": "b"}, "category": "campus",
             "priority": "normal", "source": "test", "status": "queued", "reason": None,
             "code": None} for i in range(n)]
    deliveries.insert_new(store, rows, "test")
    return [r["id"] for r in rows]


def _inbox_row(delivery_id: str) -> dict:
    return {"delivery_id": delivery_id, "recipient_id": "r", "category": "campus",
            "title": "t", "body": "b", "url": None}


def _status(store, ids):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return dict(conn.execute(select(Delivery.id, Delivery.status)
                                 .where(Delivery.id.in_(ids))).all())


def test_inbox_deliveries_are_claimed_written_and_recorded_in_one_go_and_only_once(store):
    a, b, c = _rows(store, 3)
    with store.connect() as conn:  # cancelled: final, so not taken
        conn.execute(Delivery.__table__.update().where(Delivery.id == a)
                     .values(status="skipped", reason="cancelled"))
    done = deliveries.record_sent_locally(store, [a, b, c, b], [], "w1", 0.5,
                                          [_inbox_row(x) for x in (a, b, c)])
    assert done == {b: 1, c: 1}
    assert _status(store, [a, b, c]) == {a: "skipped", b: "sent", c: "sent"}
    # a copy of the same deliveries later (published twice): nothing more is written
    assert deliveries.record_sent_locally(store, [b, c], [], "w2", 0.5,
                                          [_inbox_row(x) for x in (b, c)]) == {}
    with store.read() as conn:
        inbox = conn.execute(select(InboxMessage.delivery_id)
                             .where(InboxMessage.delivery_id.in_([a, b, c]))).scalars().all()
        events = conn.execute(select(DeliveryEvent.delivery_id, DeliveryEvent.status,
                                     DeliveryEvent.attempt, DeliveryEvent.actor)
                              .where(DeliveryEvent.delivery_id == b)
                              .order_by(DeliveryEvent.id)).all()
    assert sorted(inbox) == sorted([b, c])  # no row without its "sent", none twice
    assert [tuple(e) for e in events] == [(b, "queued", 0, "test"), (b, "sent", 1, "w1")]


def test_a_redelivered_inbox_delivery_left_sending_by_a_dead_worker_is_taken_over(store):
    (a,) = _rows(store, 1)
    deliveries.claim(store, [a], [], "dead-worker")  # claimed, then the worker died
    assert deliveries.record_sent_locally(store, [a], [], "w", None, [_inbox_row(a)]) == {}
    assert deliveries.record_sent_locally(store, [a], [a], "w", None, [_inbox_row(a)]) == {a: 2}
    assert _status(store, [a]) == {a: "sent"}


_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.sqlite_only
@pytest.mark.parametrize("end", ["release", "sigkill"])
def test_sqlite_writers_of_every_process_queue_on_one_file_lock(store, end):
    assert store._writers is not None, "the writer queue is on by default for a SQLite file"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, store._writers.path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        wrote = threading.Event()

        def write() -> None:
            _rows(store, 1)
            wrote.set()

        t = threading.Thread(target=write, daemon=True)
        t.start()
        assert not wrote.wait(0.7), "a writer went ahead while another process held the turn"
        if end == "release":
            holder.stdin.close()
        else:
            holder.kill()  # the kernel drops the lock of a dead process
        assert wrote.wait(10), "the writer did not get its turn"
        # the same thread may nest write transactions' turns (re-entrant)
        with store._writers.held(), store._writers.held():
            pass
    finally:
        holder.kill()
        holder.wait()
