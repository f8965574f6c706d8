"""A worker cut off mid-send whose delivery another worker took over and finished: its late
result does not overwrite the finished one.

Seen in the HA drill (link-cut, cut while host c waited for Aliyun's answer): host c's call
timed out, and once its link came back it recorded "queued, retry in 5 s" over the ``sent``
of the worker that had taken the delivery over; its retry could not be published (its
connection was gone), and 500 deliveries stayed ``queued`` with no message left to send
them.  A result is recorded only by the claim it belongs to."""

from __future__ import annotations

from clarion.store import deliveries
from clarion.store.protocol import Outcome


def row(i: int) -> dict:
    return {"id": f"d-{i}", "campaign_id": None, "message_id": "m-1", "recipient_id": f"r{i}",
            "channel": "sms", "address": f"+86138000000{i:02d}", "content": {"text": "Fire"},
            "category": "emergency", "priority": "emergency", "source": "security",
            "status": "queued", "reason": None, "code": None}


def status_of(store, delivery_id: str) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return tuple(conn.exec_driver_sql(  # type: ignore[return-value]
            f"SELECT status, attempts FROM deliveries WHERE id = '{delivery_id}'").one())


def record(store, outcome: Outcome, actor: str) -> None:  # type: ignore[no-untyped-def]
    store.run(store.record_results([outcome], actor))


def test_a_late_result_of_a_lost_claim_leaves_the_takeover_s_result(store):
    deliveries.insert_new(store, [row(1)], "fanout:sms")
    first = deliveries.claim(store, ["d-1"], [], "worker-c")["d-1"]
    # host c is cut off; the broker gives the message to worker-b, redelivered
    second = deliveries.claim(store, ["d-1"], ["d-1"], "worker-b")["d-1"]
    assert (first.attempts, second.attempts) == (1, 2)
    record(store, Outcome("d-1", "sent", second.attempts), "worker-b")
    record(store, Outcome("d-1", "queued", first.attempts,
                          reason="retry in 5s: request failed"), "worker-c")
    assert status_of(store, "d-1") == ("sent", 2)


def test_a_late_refund_does_not_give_back_the_takeover_s_attempt(store):
    deliveries.insert_new(store, [row(2)], "fanout:sms")
    first = deliveries.claim(store, ["d-2"], [], "worker-c")["d-2"]
    second = deliveries.claim(store, ["d-2"], ["d-2"], "worker-b")["d-2"]
    record(store, Outcome("d-2", "queued", first.attempts - 1,
                          refund_attempt=True), "worker-c")  # throttled, late
    assert status_of(store, "d-2") == ("sending", 2)
    record(store, Outcome("d-2", "sent", second.attempts), "worker-b")
    assert status_of(store, "d-2") == ("sent", 2)


def test_the_claim_s_own_results_are_recorded(store):
    deliveries.insert_new(store, [row(3), row(4)], "fanout:sms")
    claims = deliveries.claim(store, ["d-3", "d-4"], [], "worker-a")
    record(store, Outcome("d-3", "queued", claims["d-3"].attempts - 1,
                          refund_attempt=True), "worker-a")  # throttled
    record(store, Outcome("d-4", "failed", claims["d-4"].attempts,
                          code="isv.MOBILE_NUMBER_ILLEGAL"), "worker-a")
    assert status_of(store, "d-3") == ("queued", 0)
    assert status_of(store, "d-4") == ("failed", 1)
