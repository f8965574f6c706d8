"""Channel adapters: one module per provider behind the protocol in :mod:`.base`."""

from .base import (  # noqa: F401
    AccountStoppedError,
    BaseChannel,
    Channel,
    ChannelError,
    ConfigurationError,
    OutboundMessage,
    Outcome,
    PermanentError,
    RetryableError,
    SendResult,
)
