"""The producer API (FastAPI): campaigns, transactional messages, receipts, the campus inbox.

Importing the package registers the API's tables on ``Base.metadata``.  The application
(``create_app``) is imported on first use, so that a command which only writes an audit entry
(``clarion.api.audit``) does not pay for FastAPI and every route (~0.8 s).
"""

from typing import Any

from ..store import api_models as _api_models  # noqa: F401 - tables on Base.metadata

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
