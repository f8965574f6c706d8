"""The store's write paths on a real database: the inbox's one-transaction record, and (on
SQLite) writers of every process queued on one file lock."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

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
    assert [tuple(e) for e in events] == [(b, "sent", 1, "w1")]  # creation: the row itself
    row, steps = deliveries.trace(store, b)
    assert [(e["status"], e["attempt"]) for e in steps] == [("queued", 0), ("sent", 1)]
    assert steps[0]["at"] == row["created_at"] and steps[0]["actor"] == f"message:{row['message_id']}"


def test_a_delivery_created_without_an_address_keeps_its_own_first_event(store):
    tag = uuid.uuid4().hex[:8]
    row = {"id": f"d-{tag}", "campaign_id": None, "message_id": f"m-{tag}", "recipient_id": "r",
           "channel": "sms", "address": None, "content": {}, "category": "campus",
           "priority": "normal", "source": "test", "status": "skipped",
           "reason": "no phone", "code": "no_address"}
    deliveries.insert_new(store, [row], "fanout:sms")
    _, steps = deliveries.trace(store, row["id"])
    assert [(e["status"], e["reason"], e["actor"]) for e in steps] == [
        ("skipped", "no phone", "fanout:sms")]
    assert deliveries.events_for(store, [row["id"]])[row["id"]] == steps


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


@pytest.mark.sqlite_only
def test_a_process_puts_one_writer_at_a_time_in_the_queue(store, monkeypatch):
    """Threads of one process (a fan-out's) wait their turn inside it: only one of them
    queues on the file lock with the other processes, and a failed write frees the turn."""
    from clarion.store.sqlite import writer_queue as dbmod

    queued = []
    real_flock = dbmod.fcntl.flock
    monkeypatch.setattr(dbmod.fcntl, "flock", lambda fd, op: (queued.append(fd),
                                                               real_flock(fd, op))[1])
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with store._writers.held():
            first_in.set()
            release.wait(5)

    def second() -> None:
        with store._writers.held():
            pass

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(5)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive() and len(queued) == 1, "a second thread queued on the file lock"
    release.set()
    a.join(5)
    b.join(5)
    assert not b.is_alive() and len(queued) == 2
    with pytest.raises(ValueError), store._writers.held():
        raise ValueError("a failed write")
    with store._writers.held():  # the turn was given back
        pass


def _inserter(store):  # type: ignore[no-untyped-def]
    """A write of one new delivery (tagged ``tag``) for a writer: ``fn(conn, tag)``."""
    def insert_one(conn, tag: str) -> str:  # type: ignore[no-untyped-def]
        store.insert_deliveries([_one_row(tag)], "test")(conn)
        return f"d-{tag}"
    return insert_one


def _one_row(tag: str) -> dict:
    return {"id": f"d-{tag}", "campaign_id": None, "message_id": f"m-{tag}", "recipient_id": "r",
           "channel": "inbox", "address": "r", "content": {}, "category": "campus",
           "priority": "normal", "source": "test", "status": "queued", "reason": None,
           "code": None}


def _refuse(conn, what: str) -> None:  # type: ignore[no-untyped-def]
    raise ValueError(what)


@contextlib.contextmanager
def _group_writer_behind_another_process(store):  # type: ignore[no-untyped-def]
    """A GroupWriter, while another process holds the writers' turn until ``release()``."""
    from clarion.store.writer import GroupWriter

    writer = GroupWriter(store)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, store._writers.path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield writer, holder.stdin.close
    finally:
        holder.kill()
        holder.wait()
        writer.close()


@pytest.mark.sqlite_only
def test_the_worker_commits_writes_that_queued_while_it_waited_in_one_transaction(store):
    """Group commit: writes queued while the database thread waits for the lock share one
    transaction; one failing write fails only itself (the others are run again alone)."""
    tag = uuid.uuid4().hex[:8]
    with _group_writer_behind_another_process(store) as (writer, release):
        async def scenario():  # type: ignore[no-untyped-def]
            ops = [writer.write(_inserter(store), f"{tag}-{i}") for i in range(5)]
            ops.insert(2, writer.write(_refuse, "bad write"))
            tasks = [asyncio.ensure_future(op) for op in ops]
            await asyncio.sleep(0.5)  # the thread waits for the lock; the rest queue behind it
            assert not any(t.done() for t in tasks)
            release()  # the other process lets go
            return await asyncio.gather(*tasks, return_exceptions=True)
        results = asyncio.run(scenario())
    assert isinstance(results[2], ValueError) and str(results[2]) == "bad write"
    assert [r for i, r in enumerate(results) if i != 2] == [f"d-{tag}-{i}" for i in range(5)]
    assert sorted(_status(store, [f"d-{tag}-{i}" for i in range(5)]).values()) == ["queued"] * 5
    # the group failed once, then each ran alone: 5 transactions for 5 good writes
    assert writer.operations == 5 and writer.transactions == 5


@pytest.mark.sqlite_only
def test_writes_that_queued_together_share_one_transaction(store):
    tag = uuid.uuid4().hex[:8]
    with _group_writer_behind_another_process(store) as (writer, release):
        async def scenario():  # type: ignore[no-untyped-def]
            tasks = [asyncio.ensure_future(writer.write(_inserter(store), f"{tag}-{i}"))
                     for i in range(6)]
            await asyncio.sleep(0.5)
            release()
            return await asyncio.gather(*tasks)
        ids = asyncio.run(scenario())
    assert len(set(ids)) == 6 and len(_status(store, ids)) == 6
    assert writer.operations == 6 and writer.transactions == 1


@pytest.mark.sqlite_only
def test_sqlite_checkpoints_its_wal_every_ten_thousand_pages(store):
    from clarion.store.sqlite.engine import WAL_AUTOCHECKPOINT_PAGES
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == \
            WAL_AUTOCHECKPOINT_PAGES == 10_000
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _stored(store, delivery_id: str) -> dict:  # type: ignore[no-untyped-def]
    """Everything stored for one delivery, read through SQLAlchemy (and on SQLite as raw
    text)."""
    with store.read() as conn:
        row = dict(conn.execute(select(Delivery).where(Delivery.id == delivery_id)).one()._mapping)
        events = [dict(e._mapping) for e in conn.execute(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id))]
        inbox = [dict(i._mapping) for i in conn.execute(
            select(InboxMessage).where(InboxMessage.delivery_id == delivery_id))]
        raw = () if store.backend != "sqlite" else tuple(conn.exec_driver_sql(
            "SELECT created_at, updated_at, content FROM deliveries WHERE id = ?",
            (delivery_id,)).one())
    return {"row": row, "events": events, "inbox": inbox, "raw": raw}


def _same_but_ids_and_times(a, b, times=("created_at", "updated_at", "at")) -> None:  # type: ignore[no-untyped-def]
    def strip(d: dict) -> dict:
        return {k: (type(v) if k in times else v) for k, v in d.items()
                if k not in ("id", "delivery_id")}
    assert strip(a["row"]) == strip(b["row"])
    assert [strip(e) for e in a["events"]] == [strip(e) for e in b["events"]]
    assert [strip(i) for i in a["inbox"]] == [strip(i) for i in b["inbox"]]


def _write_through_sqlalchemy(store, tag: str, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """The reference: the same writes as the backend's, made by SQLAlchemy itself."""
    from sqlalchemy import insert, update
    from clarion.store.rows import new_deliveries
    D, E, I = Delivery.__table__, DeliveryEvent.__table__, InboxMessage.__table__
    rows, events = new_deliveries(rows, "fanout:sms")
    at = datetime.now(timezone.utc)
    with store.connect() as conn:
        conn.execute(insert(D), list(rows))
        conn.execute(insert(E), events)
    with store.connect() as conn:
        conn.execute(update(D).where(D.c.id == f"d-{tag}").values(
            status="sent", attempts=1, provider_message_id="biz-1", duration_ms=1.5,
            code=None, reason=None, updated_at=at))
        conn.execute(insert(E), [{"delivery_id": f"d-{tag}", "at": at, "status": "sent",
                                  "attempt": 1, "duration_ms": 1.5, "actor": "w1"}])
        conn.execute(update(D).where(D.c.id == f"d-{tag}-inbox").values(
            status="sent", attempts=1, duration_ms=0.25, code=None, reason=None,
            updated_at=at))
        conn.execute(insert(I), [{"created_at": at, **_inbox_row(f"d-{tag}-inbox")}])
        conn.execute(insert(E), [{"delivery_id": f"d-{tag}-inbox", "at": at,
                                  "status": "sent", "attempt": 1, "duration_ms": 0.25,
                                  "actor": "w1"}])


def _write_through_the_backend(store, tag: str, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    store.run(store.insert_deliveries(rows, "fanout:sms"))
    with store.connect() as conn:
        claims = store.claim([f"d-{tag}"], [], "w1")(conn)
        assert {i: c.attempts for i, c in claims.items()} == {f"d-{tag}": 1}
        store.record_results([deliveries.Outcome(
            f"d-{tag}", "sent", 1, provider_message_id="biz-1", duration_ms=1.5)], "w1")(conn)
    write = store.record_local_sends([f"d-{tag}-inbox"], [], "w1", 0.25,
                                     [_inbox_row(f"d-{tag}-inbox")])
    assert store.run(write) == {f"d-{tag}-inbox": 1}


def test_the_backend_write_path_stores_exactly_what_sqlalchemy_stores(store):
    """Inserts, claims, results and inbox rows written by the backend's own bulk path
    (DB-API tuples on SQLite, arrays on PostgreSQL) read back like the same writes made
    through SQLAlchemy, down (on SQLite) to the stored text of times and JSON."""
    def row(tag: str, status: str = "queued") -> dict:
        return {"id": f"d-{tag}", "campaign_id": None, "message_id": "m-1",
                "recipient_id": "r1", "channel": "sms", "address": "+8613800000000",
                "content": {"text": "Fire drill at 10:00", "ü": [1, None]},
                "category": "security", "priority": "emergency", "source": "security",
                "status": status, "reason": "no phone" if status == "skipped" else None,
                "code": "no_address" if status == "skipped" else None}

    for write, tag in ((_write_through_the_backend, "fast"), (_write_through_sqlalchemy, "slow")):
        write(store, tag, [row(tag), row(f"{tag}-skip", "skipped"), row(f"{tag}-inbox")])

    for suffix in ("", "-skip", "-inbox"):
        fast, slow = _stored(store, f"d-fast{suffix}"), _stored(store, f"d-slow{suffix}")
        _same_but_ids_and_times(fast, slow)
        if store.backend == "sqlite":
            for stored in (fast, slow):  # SQLAlchemy's own text for times on SQLite
                assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}",
                                    stored["raw"][0])
            assert fast["raw"][2] == slow["raw"][2]  # the same JSON text
    assert _stored(store, "d-fast")["row"]["provider_message_id"] == "biz-1"
    assert len(_stored(store, "d-fast-inbox")["inbox"]) == 1


@pytest.mark.sqlite_only
@pytest.mark.parametrize("column", ["message_id", "provider_message_id"])
def test_lookups_by_message_or_provider_id_use_their_partial_index(store, column):
    """Only deliveries with the id set are indexed (no B-tree write for each NULL on the hot
    path), and a lookup by the id still finds them through the index."""
    with store.read() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN SELECT id FROM deliveries "
                                    f"WHERE {column} = ?", ("x",)).all()
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?",
                                   (f"ix_deliveries_{column}",)).scalar_one()
    assert f"USING INDEX ix_deliveries_{column}" in str(plan)
    assert ddl.endswith(f"WHERE {column} IS NOT NULL")


def test_new_rows_keep_each_content_and_store_a_missing_route_as_null(store):
    """A chunk's rows with the same content and with their own keep what they carry (the
    insert writes a repeated content's JSON once); no fallback route is SQL NULL on both
    databases, so ``fallback IS NOT NULL`` finds only the rows with one."""
    tag = uuid.uuid4().hex[:8]
    alert = {"title": "Power cut", "body": "Building 3"}
    contents = [dict(alert), dict(alert), {"title": "Power cut", "body": "Building 4"},
                {"body": "Building 3", "title": "Power cut"}, {"n": 1}]
    rows = [{"id": f"c-{tag}-{i}", "campaign_id": None, "message_id": f"m-{tag}",
             "recipient_id": f"r{i}", "channel": "inbox", "address": f"r{i}",
             "content": content, "category": "campus", "priority": "emergency",
             "source": "test", "status": "queued", "reason": None, "code": None,
             "fallback": [{"channel": "sms", "address": "+1", "content": {}}] if i == 4
             else None} for i, content in enumerate(contents)]
    deliveries.insert_new(store, rows, "test")
    ids = [r["id"] for r in rows]
    with store.read() as conn:
        stored = dict(conn.execute(select(Delivery.id, Delivery.content)
                                   .where(Delivery.id.in_(ids))).all())
        routed = conn.execute(select(Delivery.id).where(Delivery.id.in_(ids),
                                                        Delivery.fallback.is_not(None))
                              ).scalars().all()
    assert [stored[i] for i in ids] == contents
    assert routed == [ids[4]]
