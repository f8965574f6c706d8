"""The producer API (FastAPI): campaigns, transactional messages, receipts, the campus inbox.

Importing the package registers the API's tables on ``Base.metadata``.
"""

from ..store import api_models as _api_models  # noqa: F401 - tables on Base.metadata
from .app import create_app

__all__ = ["create_app"]
