"""The contract every channel adapter keeps.

A channel takes rendered messages for one provider account and makes exactly one attempt
per call.  It returns one :class:`SendResult` per message, never raises for a single
recipient's problem, and knows nothing of the store, the broker or Prefect.  Whole-call
problems (the provider is down, the token is refused) are raised as :class:`ChannelError`
subclasses; the worker turns them into one result per message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


# code of a result held back before any provider call (a rate limit, a number known to be over
# the provider's cap): the worker requeues it without counting an attempt
HELD_BACK = "throttled"


class Outcome(str, enum.Enum):
    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # try again later (the queue owns the delay)
    FAILED = "failed"  # permanent for this recipient
    STOPPED = "stopped"  # the account can't send now (quota, balance, signature): pause, don't burn


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One rendered message for one recipient on one channel."""

    delivery_id: str
    address: str  # email, phone number, user id, openid, subscription JSON … as the channel needs
    content: Mapping[str, str]  # rendered variant: subject/text/html, text, title/body …
    category: str = "general"
    priority: str = "normal"
    recipient_id: str | None = None
    campaign_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The plain-text body, whichever variant field carries it."""
        c = self.content
        return c.get("text") or c.get("body") or c.get("title") or ""


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: str
    outcome: Outcome
    code: str | None = None  # the provider's own code ("550", "isv.MOBILE_NUMBER_ILLEGAL" …)
    reason: str | None = None  # human-readable, never carrying secrets
    retry_after: float | None = None  # seconds, when the provider said
    provider_message_id: str | None = None
    forget_address: bool = False  # the address is dead (410 subscription, unregistered token)
    via: str | None = None  # the channel that answered, when a composite sent it elsewhere

    @classmethod
    def sent(cls, delivery_id: str, provider_message_id: str | None = None,
             note: str | None = None) -> SendResult:
        """Accepted; ``note`` says what was changed to fit the provider (a cut), for the trace."""
        return cls(delivery_id, Outcome.SENT, reason=note,
                   provider_message_id=provider_message_id)

    @classmethod
    def failed(cls, delivery_id: str, code: str | None, reason: str, **kw: Any) -> SendResult:
        return cls(delivery_id, Outcome.FAILED, code=code, reason=reason, **kw)

    @classmethod
    def retry(cls, delivery_id: str, code: str | None, reason: str,
              retry_after: float | None = None) -> SendResult:
        return cls(delivery_id, Outcome.RETRY, code=code, reason=reason, retry_after=retry_after)


# ---- errors: one tree under one base -------------------------------------------------------

class ChannelError(Exception):
    """A whole provider call went wrong; applies to every message in that call."""

    outcome: ClassVar[Outcome] = Outcome.FAILED

    def __init__(self, reason: str, code: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def result_for(self, delivery_id: str) -> SendResult:
        return SendResult(delivery_id, self.outcome, code=self.code, reason=self.reason)


class RetryableError(ChannelError):
    """Transient: timeouts, 5xx, throttling.  ``retry_after`` in seconds when known."""

    outcome = Outcome.RETRY

    def __init__(self, reason: str, code: str | None = None, retry_after: float | None = None):
        super().__init__(reason, code)
        self.retry_after = retry_after

    def result_for(self, delivery_id: str) -> SendResult:
        return SendResult.retry(delivery_id, self.code, self.reason, self.retry_after)


class PermanentError(ChannelError):
    """The provider refused the message for good (bad number, unknown mailbox)."""


class AccountStoppedError(ChannelError):
    """The account can't send at all for now: quota, balance, rejected signature.

    The worker pauses the account and leaves the deliveries for later instead of failing them.
    """

    outcome = Outcome.STOPPED

    def __init__(self, reason: str, code: str | None = None, retry_after: float | None = 600.0):
        super().__init__(reason, code)
        self.retry_after = retry_after

    def result_for(self, delivery_id: str) -> SendResult:
        return SendResult(delivery_id, Outcome.STOPPED, code=self.code, reason=self.reason,
                          retry_after=self.retry_after)


class ConfigurationError(ChannelError):
    """The channel is not configured well enough to send (missing URL, key …)."""


# ---- the protocol ---------------------------------------------------------------------------

@runtime_checkable
class Channel(Protocol):
    """What the worker needs of an adapter."""

    name: str
    max_batch: int  # most messages one ``send`` call takes

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """One attempt for each message; one result per message, in any order."""
        ...

    async def aclose(self) -> None: ...


class BaseChannel:
    """Defaults shared by adapters: settings as class attributes, secrets masked on print."""

    name: ClassVar[str] = "base"
    max_batch: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # True for a channel whose "send" is rows in Clarion's own database (the inbox): nothing
    # leaves the process before the record, so the worker writes its ``rows(messages)`` and
    # claims and records its deliveries in one transaction, without a ``sending`` state.
    local: ClassVar[bool] = False

    async def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        shown = {k: ("***" if k in self.secret_fields else v) for k, v in vars(self).items()
                 if not k.startswith("_")}
        return f"{type(self).__name__}({shown})"


def results_for_all(messages: Sequence[OutboundMessage], error: ChannelError) -> list[SendResult]:
    """Spread one whole-call error over every message of the call."""
    return [error.result_for(m.delivery_id) for m in messages]
