"""Provider rate limits shared by every worker (clarion.worker.ratelimit): each provider
call waits for its tokens, or comes back ``throttled`` for the retry queue."""

from __future__ import annotations

from ...channels.base import SendResult
from ..ratelimit import Limiter
from .base import Middleware, Send, SendCall


class RateLimits(Middleware):
    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    async def around_send(self, call: SendCall, send: Send) -> list[SendResult]:
        return await self.limiter.paced(call.channel, call.adapter, call.messages, send)
