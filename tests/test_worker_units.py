"""Pure parts of the worker: ack bookkeeping, retry tiers, result decisions."""

from __future__ import annotations

from clarion.broker.message import DeliveryMessage
from clarion.broker.names import pick_delay
from clarion.channels.base import Outcome, SendResult
from clarion.worker.acks import AckTracker
from clarion.worker.decide import decide


def tracker(*tags: int) -> AckTracker:
    t = AckTracker()
    for tag in tags:
        t.received(tag)
    return t


def test_contiguous_finish_acks_multiple_up_to_the_mark():
    t = tracker(1, 2, 3, 4)
    assert t.finish([1, 2, 3]) == [(3, True)]
    assert t.finish([4]) == [(4, True)]
    assert len(t) == 0


def test_finished_above_a_gap_are_acked_alone_at_once_and_never_twice():
    t = tracker(1, 2, 3, 4, 5)
    assert t.finish([3, 4]) == [(3, False), (4, False)]
    # 1 and 2 finish: multiple up to 2 only; 3 and 4 were already acked alone
    assert t.finish([1, 2]) == [(2, True)]
    assert t.finish([5]) == [(5, True)]
    assert len(t) == 0


def test_rejected_tags_are_settled_without_an_ack():
    t = tracker(1, 2, 3)
    assert t.finish([1], rejected=True) == []
    assert t.finish([2, 3]) == [(3, True)]


def test_a_multiple_ack_never_covers_unfinished_work():
    t = tracker(1, 2, 3)
    acks = t.finish([2])
    assert acks == [(2, False)]
    assert all(not (multiple and tag >= 1) for tag, multiple in acks)


def test_retry_tiers_grow_and_honour_retry_after():
    delays = [1, 5, 30, 120, 600]
    assert [pick_delay(delays, a, None) for a in (1, 2, 3, 4, 5, 9)] == [1, 5, 30, 120, 600, 600]
    assert pick_delay(delays, 1, 3) == 5  # never sooner than the provider asked
    assert pick_delay(delays, 3, 3) == 30  # nor sooner than our own back-off
    assert pick_delay(delays, 1, 5000) == 600  # capped at the longest tier


def _msg(i: str) -> DeliveryMessage:
    return DeliveryMessage(id=i, channel="sms", lane="normal", address="+1", content={},
                           recipient_id="r", campaign_id="c", category="x", priority="normal",
                           enqueued_at=0.0)


def test_decide_maps_outcomes_and_gives_up_after_max_attempts():
    msgs = {i: _msg(i) for i in "abcde"}
    attempts = {"a": 1, "b": 1, "c": 1, "d": 6, "e": 1}
    results = [SendResult.sent("a"), SendResult.failed("b", "400", "invalid number"),
               SendResult.retry("c", "500", "busy", retry_after=4),
               SendResult.retry("d", "500", "busy"),
               SendResult("e", Outcome.STOPPED, code="quota", reason="day limit", retry_after=60)]
    d = decide(msgs, attempts, results, [1, 5, 30], max_attempts=6, duration_ms=1.0)
    status = {r.id: r.status for r in d.record}
    assert status == {"a": "sent", "b": "failed", "c": "queued", "d": "failed", "e": "queued"}
    assert [(m.id, delay) for m, delay in d.retry] == [("c", 5), ("e", 30)]
    assert d.stopped_for == 60
    gave_up = next(r for r in d.record if r.id == "d")
    assert gave_up.reason.startswith("gave up after 6 attempts")
    assert d.counts == {"sent": 1, "failed": 2, "retried": 1, "stopped": 1}


def test_what_an_adapter_cut_to_fit_is_recorded_with_the_sent_status():
    msgs = {i: _msg(i) for i in "ab"}
    results = [SendResult.sent("a", "m1", note="wecom_app: text cut to 2046 bytes"),
               SendResult("b", Outcome.SENT, reason="keyword2 cut", via="backup")]
    d = decide(msgs, {"a": 1, "b": 1}, results, [1, 5], max_attempts=6, duration_ms=1.0)
    reasons = {r.id: r.reason for r in d.record}
    assert reasons == {"a": "wecom_app: text cut to 2046 bytes",
                       "b": "sent via backup; keyword2 cut"}
