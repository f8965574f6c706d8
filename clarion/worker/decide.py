"""Turn a channel's results into what to record and what to retry (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..broker.message import DeliveryMessage
from ..broker.names import pick_delay
from ..channels.base import Outcome, SendResult
from ..domain import DeliveryStatus as S
from ..store.protocol import Outcome as Recorded
from .ratelimit import THROTTLED


@dataclass
class Decision:
    record: list[Recorded] = field(default_factory=list)
    retry: list[tuple[DeliveryMessage, int]] = field(default_factory=list)  # (message, delay)
    stopped_for: float | None = None  # the account is paused this long
    counts: dict[str, int] = field(default_factory=dict)  # outcome label → n

    def count(self, label: str) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1


def decide(messages: dict[str, DeliveryMessage], attempts: dict[str, int],
           results: list[SendResult], delays: list[int], max_attempts: int,
           duration_ms: float) -> Decision:
    d = Decision()
    for res in results:
        msg = messages[res.delivery_id]
        attempt = attempts[res.delivery_id]
        if res.outcome is Outcome.SENT:
            d.record.append(Recorded(res.delivery_id, S.SENT.value, attempt,
                                     reason=_sent_reason(res),
                                     provider_message_id=res.provider_message_id,
                                     duration_ms=duration_ms))
            d.count("sent")
        elif res.outcome is Outcome.FAILED:
            d.record.append(Recorded(res.delivery_id, S.FAILED.value, attempt, res.code,
                                     res.reason, duration_ms=duration_ms))
            d.count("failed")
        elif res.outcome is Outcome.STOPPED:
            _requeue(d, msg, attempt, res, delays, "stopped")
            d.stopped_for = max(d.stopped_for or 0, res.retry_after or delays[-1])
        elif res.outcome is Outcome.RETRY and res.code == THROTTLED:
            # held back by our own rate limit: the provider was not called, no attempt spent
            _requeue(d, msg, attempt - 1, res, delays, "retried", refund=True)
        elif attempt >= max_attempts:
            d.record.append(Recorded(res.delivery_id, S.FAILED.value, attempt, res.code,
                                     f"gave up after {attempt} attempts: {res.reason}",
                                     duration_ms=duration_ms))
            d.count("failed")
        else:
            _requeue(d, msg, attempt, res, delays, "retried")
    return d


def _sent_reason(res: SendResult) -> str | None:
    """What the trace says of a sent delivery: the fallback that sent it, what was cut."""
    parts = [f"sent via {res.via}" if res.via else None, res.reason]
    return "; ".join(p for p in parts if p) or None


def _requeue(d: Decision, msg: DeliveryMessage, attempt: int, res: SendResult,
             delays: list[int], label: str, refund: bool = False) -> None:
    delay = pick_delay(delays, attempt, res.retry_after)
    d.record.append(Recorded(res.delivery_id, S.QUEUED.value, attempt, res.code,
                             f"retry in {delay}s: {res.reason}", refund_attempt=refund))
    msg.attempt = attempt
    d.retry.append((msg, delay))
    d.count(label)
